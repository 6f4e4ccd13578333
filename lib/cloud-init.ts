// Cloud-init user-data for the GPU VMs: NVIDIA driver, container toolkit, Docker (with the cgroupfs fix that keeps
// the GPU after idle), qemu-guest-agent, node exporter, SSH keys only. The data disk is formatted only when it has
// no filesystem yet, so a replaced VM finds its model store and vector data where it left them. Package names follow
// the guest OS (lib/guest-os.ts); packages come through the platform's package cache when one is given.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { EnvironmentConfig } from "./config/schema";
import { urlEgress, type Egress } from "./egress";
import { RECORD_FIRST_BOOT } from "./first-boot";
import { GUEST_OS_PACKAGES, distributionEgress, driverPackageFor, type GuestOs } from "./guest-os";

export interface GpuVmUserDataInput {
  hostname: string;
  fqdn?: string;
  sshKeys: string[];
  os: GuestOs;
  /** The NVIDIA driver and container toolkit; false only for a VM without a GPU (the real-guest testbed). */
  nvidia: boolean;
  nvidiaDriverPackage: string;
  /** The package cache apt fetches through ("http://10.10.0.16:3142"): the public zone's only package source. */
  aptProxy?: string;
  /** The by-id path of the data disk as the guest sees it. */
  dataDevice: string;
  dataMountPoint: string;
  env: string;
}

export const ADMIN_USER = "ops";
export const DATA_LABEL = "aidata";
/** The data disk (scsi1, the holder's volume) as the guest sees it: QEMU names it by its drive id. */
export const DATA_DEVICE = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi1";
export const DATA_MOUNT_POINT = "/srv/data";

/** The user-data input of an environment's GPU VM, from its config alone (the program and the real-guest testbed). */
export function gpuVmUserDataInput(c: EnvironmentConfig, aptProxy?: string): GpuVmUserDataInput {
  const hostname = `${c.role}-gpu`;
  return {
    hostname,
    ...(c.gpuVm.searchDomain ? { fqdn: `${hostname}.${c.gpuVm.searchDomain}` } : {}),
    sshKeys: c.sshKeys,
    os: c.gpuVm.os,
    nvidia: c.gpuVm.nvidia,
    nvidiaDriverPackage: driverPackageFor(c.gpuVm.os, c.gpuVm.nvidiaDriverPackage),
    ...(aptProxy ? { aptProxy } : {}),
    dataDevice: DATA_DEVICE,
    dataMountPoint: DATA_MOUNT_POINT,
    env: c.role,
  };
}

/** Docker daemon settings: cgroupfs keeps the GPU visible after idle (ollama#3930, PR #7519). */
export function dockerDaemonConfig(dataMountPoint: string): { "data-root": string } & Record<string, unknown> {
  return {
    "exec-opts": ["native.cgroupdriver=cgroupfs"],
    "data-root": `${dataMountPoint}/docker`,
    "log-driver": "json-file",
    "log-opts": { "max-size": "50m", "max-file": "3" },
    "live-restore": true,
    "no-new-privileges": true,
  };
}

const SSHD_HARDENING = [
  "# Managed by ai-dualstack: keys only.",
  "PasswordAuthentication no",
  "KbdInteractiveAuthentication no",
  "PermitRootLogin no",
  "PubkeyAuthentication yes",
  "",
].join("\n");

const NVIDIA_TOOLKIT_REPO = "https://nvidia.github.io/libnvidia-container";

export function renderGpuVmUserData(input: GpuVmUserDataInput): string {
  if (input.sshKeys.length === 0) throw new Error("renderGpuVmUserData: at least one SSH key is required");
  const os = GUEST_OS_PACKAGES[input.os];
  const keyring = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg";
  const nvidiaCommands: (string | string[])[] = input.nvidia
    ? [
        // The repository is added only once its key is in place (a source without its key would fail every
        // apt-get update); apt expands $(ARCH) itself, hence the single quotes.
        [
          "sh",
          "-c",
          `curl -fsSL ${NVIDIA_TOOLKIT_REPO}/gpgkey | gpg --batch --yes --dearmor -o ${keyring} && printf '%s\\n' 'deb [signed-by=${keyring}] ${NVIDIA_TOOLKIT_REPO}/stable/deb/$(ARCH) /' > /etc/apt/sources.list.d/nvidia-container-toolkit.list`,
        ],
        ["sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nvidia-container-toolkit"],
        ["nvidia-ctk", "runtime", "configure", "--runtime=docker"],
      ]
    : [];
  const apt = {
    // What the packages need, not what they suggest: node exporter's recommends alone pull in IPMI, SNMP and SMART
    // tools (some 60 packages) that an internet-facing GPU server has no use for.
    conf: 'APT::Install-Recommends "false";\n',
    ...(input.aptProxy ? { proxy: input.aptProxy } : {}),
    ...(input.nvidia && os.driverSource ? { sources: { "ai-dualstack-driver": { source: os.driverSource } } } : {}),
  };
  const doc = {
    hostname: input.hostname,
    ...(input.fqdn ? { fqdn: input.fqdn } : {}),
    manage_etc_hosts: true,
    users: [
      {
        name: ADMIN_USER,
        gecos: "ai-dualstack operator",
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: input.sshKeys,
      },
    ],
    ssh_pwauth: false,
    disable_root: true,
    apt,
    package_update: true,
    package_upgrade: false,
    packages: [
      "qemu-guest-agent",
      "prometheus-node-exporter",
      "docker.io",
      // Docker loads its container profile with apparmor_parser on an AppArmor kernel (Debian's and Ubuntu's): without
      // it no container starts. docker.io only recommends it, and recommends are off (found in the real guest).
      "apparmor",
      ...(os.compose ? [os.compose] : []),
      "curl",
      "gnupg",
      ...(input.nvidia ? [input.nvidiaDriverPackage] : []),
    ],
    fs_setup: [
      // partition "auto": cloud-init looks at the device first and leaves it alone when it holds this label's ext4 (or
      // any other filesystem); it formats only a blank disk. With "none" it formats the raw device on every new
      // instance, overwrite: false notwithstanding (cc_disk_setup.mkfs checks existing filesystems only for auto, any
      // and partition numbers): a rebuilt VM found its data disk wiped, in the real-guest test.
      { label: DATA_LABEL, filesystem: "ext4", device: input.dataDevice, partition: "auto", overwrite: false },
    ],
    mounts: [[`LABEL=${DATA_LABEL}`, input.dataMountPoint, "ext4", "defaults,nofail,x-systemd.device-timeout=30s", "0", "2"]],
    write_files: [
      { path: "/etc/docker/daemon.json", permissions: "0644", content: `${JSON.stringify(dockerDaemonConfig(input.dataMountPoint), null, 2)}\n` },
      { path: "/etc/ssh/sshd_config.d/60-ai-dualstack.conf", permissions: "0644", content: SSHD_HARDENING },
      { path: "/etc/ai-dualstack/environment", permissions: "0644", content: `AI_DUALSTACK_ENV=${input.env}\n` },
    ],
    runcmd: [
      RECORD_FIRST_BOOT,
      ["systemctl", "enable", "--now", "qemu-guest-agent"],
      ["systemctl", "enable", "--now", "prometheus-node-exporter"],
      ...nvidiaCommands,
      ["usermod", "-aG", "docker", ADMIN_USER],
      ["systemctl", "restart", "ssh"],
      ["systemctl", "restart", "docker"],
    ],
    // One reboot after the first boot loads the freshly built NVIDIA kernel module.
    ...(input.nvidia ? { power_state: { mode: "reboot", message: "ai-dualstack: reboot to load the NVIDIA driver", timeout: 30, condition: true } } : {}),
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** What the VM's first boot contacts: its distribution (through the cache), NVIDIA's toolkit repository. */
export function gpuVmEgress(input: GpuVmUserDataInput): Egress[] {
  return [
    ...distributionEgress(input.os, "the GPU VM", { ntp: true }),
    ...(input.nvidia ? [urlEgress("the GPU VM: NVIDIA's container toolkit repository", NVIDIA_TOOLKIT_REPO)] : []),
  ];
}

/** Short content hash used to name snippets, so a changed user-data is a new file rather than an overwrite. */
export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex").slice(0, 12);
}

export function snippetFileName(vmName: string, content: string): string {
  return `${vmName}-user-data-${contentHash(content)}.yaml`;
}
