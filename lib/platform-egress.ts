// Everything the platform's containers (the services zone) contact beyond the project's networks, by container,
// gathered from the renderers that contact it: each container's distribution (fetched directly: the package cache is
// one of them, and the others are installed before the environments need it), HashiCorp's repository for Vault,
// Grafana's for the monitoring stack and the alert receivers, the cicd project's images, and the archives the package cache fetches for the
// environments. The firewall test holds the services zone's egress rules to this list.
import { hashicorpAptRepository } from "./vault/server";
import { aptRepositoryEgress } from "./apt-repo";
import { platformStack } from "./compose/services";
import { imageEgress } from "./images";
import type { HostConfig } from "./config/schema";
import type { Egress } from "./egress";
import { LXC_OS, type GuestEgress } from "./environment-egress";
import { distributionEgress } from "./guest-os";
import { grafanaAptRepository } from "./monitoring/grafana";
import { alertEgress } from "./monitoring/alertmanager";
import { PACKAGE_CACHE_ARCHIVES } from "./package-cache";

export function platformEgress(c: HostConfig): GuestEgress[] {
  const own: Record<keyof HostConfig["platform"]["containers"], (guest: string) => Egress[]> = {
    security: (guest) => aptRepositoryEgress(hashicorpAptRepository(c.platform.vault.aptKeyFingerprints), guest),
    cicd: (guest) => {
      const stack = platformStack(c);
      return stack ? imageEgress(stack.spec, guest) : [];
    },
    monitoring: (guest) => [
      ...aptRepositoryEgress(grafanaAptRepository(c.platform.monitoring.aptKeyFingerprints), guest),
      ...alertEgress(c.platform.monitoring.alerts, guest),
    ],
    backup: () => [],
    packages: (guest) => [{ what: `${guest}: the archives it caches for the environments`, hosts: PACKAGE_CACHE_ARCHIVES, proto: "tcp", port: 80 }],
  };
  return Object.entries(own).map(([key, more]) => {
    const guest = `platform-${key}`;
    return { guest, egress: [...distributionEgress(LXC_OS, guest, { ntp: false, direct: true }), ...more(guest)] };
  });
}
