// The GPU VM's operating system, a config choice (gpuVm.os): what its cloud image calls the packages the user-data
// installs. Ubuntu 24.04 LTS is the default (NVIDIA's server drivers are packaged for it, new enough for Blackwell);
// Debian 12 and 13 carry the driver in non-free and are older (535 in bookworm, 550 in trixie: not for an RTX 50xx).
import type { Egress } from "./egress";

export const GUEST_OS = ["ubuntu-24.04", "debian-12", "debian-13"] as const;
export type GuestOs = (typeof GUEST_OS)[number];

export interface GuestOsPackages {
  /** The Compose v2 plugin (`docker compose`), when the release packages it: bookworm has only Compose v1. */
  compose?: string;
  /** The NVIDIA driver package when none is configured. */
  defaultDriver: string;
  /** Driver package names this release has, for the config check. */
  driverPattern: RegExp;
  driverExample: string;
  /** Apt components the driver needs beyond the image's own (Debian's non-free), as a sources line. */
  driverSource?: string;
}

const DEBIAN_DRIVER = {
  defaultDriver: "nvidia-driver",
  driverPattern: /^(nvidia-driver|nvidia-open-kernel-dkms|nvidia-tesla-\d{3}-driver)$/,
  driverExample: '"nvidia-driver" or "nvidia-open-kernel-dkms"',
  // cloud-init's apt module replaces $MIRROR and $RELEASE with the image's own mirror and codename.
  driverSource: "deb $MIRROR $RELEASE contrib non-free non-free-firmware",
};

export const GUEST_OS_PACKAGES: Record<GuestOs, GuestOsPackages> = {
  "ubuntu-24.04": {
    compose: "docker-compose-v2",
    defaultDriver: "nvidia-driver-570-server-open",
    driverPattern: /^nvidia-(driver|headless)-\d{3}(-server)?(-open)?$/,
    driverExample: '"nvidia-driver-570-server-open"',
  },
  "debian-12": { ...DEBIAN_DRIVER },
  "debian-13": { compose: "docker-compose", ...DEBIAN_DRIVER },
};

/** The driver package for `os`: the configured one, or the release's default. Throws a message for the config error. */
export function driverPackageFor(os: GuestOs, configured: string | undefined): string {
  const p = GUEST_OS_PACKAGES[os];
  if (configured === undefined) return p.defaultDriver;
  if (!p.driverPattern.test(configured)) {
    throw new Error(`${JSON.stringify(configured)} is not an NVIDIA driver package of ${os}: expected one such as ${p.driverExample}`);
  }
  return configured;
}

/** The release's family: the LXC templates (Proxmox's Debian 12 standard) are Debian too. */
const familyOf = (os: GuestOs) => (os.startsWith("ubuntu") ? "ubuntu" : "debian");

/**
 * What the OS itself contacts: its archive and security mirrors over http:// (through the package cache, or `direct`
 * for the platform's containers, the cache among them), and, in a VM, its time servers (systemd-timesyncd's defaults;
 * containers keep the host's clock).
 */
export function distributionEgress(os: GuestOs, what: string, options: { ntp: boolean; direct?: true }): Egress[] {
  const ubuntu = familyOf(os) === "ubuntu";
  return [
    {
      what: `${what}: ${os} packages`,
      hosts: ubuntu ? ["archive.ubuntu.com", "security.ubuntu.com"] : ["deb.debian.org", "security.debian.org"],
      proto: "tcp",
      port: 80,
      ...(options.direct ? {} : { viaPackageCache: true as const }),
    },
    ...(options.ntp
      ? [{ what: `${what}: time`, hosts: ubuntu ? ["ntp.ubuntu.com"] : ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"], proto: "udp" as const, port: 123 }]
      : []),
  ];
}
