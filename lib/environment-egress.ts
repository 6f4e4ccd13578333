// Everything an environment's guests contact beyond the project's networks, by guest, gathered from the renderers
// that declare it (lib/egress.ts): the GPU VM's first boot, its images, Ollama's models, the ingress's ACME CA, the
// data LXCs' packages and every guest's log agent. The firewall test holds the zone's egress rules to this list.
import { gpuVmEgress, gpuVmUserDataInput } from "./cloud-init";
import { ingressEgress } from "./compose/caddyfile";
import { ingressInput, modelEgress } from "./compose/services";
import type { StackSpec } from "./compose/spec";
import { imageEgress } from "./images";
import type { EnvironmentConfig } from "./config/schema";
import type { Egress } from "./egress";
import { distributionEgress } from "./guest-os";
import { telemetryEgress } from "./monitoring/telemetry";

export interface GuestEgress {
  guest: string;
  egress: Egress[];
}

/** The LXC templates the environments' containers are made from are Debian 12 (Proxmox's standard template). */
export const LXC_OS = "debian-12";

export function environmentEgress(c: EnvironmentConfig, spec: StackSpec, logAgentKeyFingerprints: readonly string[]): GuestEgress[] {
  const vm = `${c.role}-gpu`;
  return [
    {
      guest: vm,
      egress: [
        ...gpuVmEgress(gpuVmUserDataInput(c)),
        ...imageEgress(spec, vm),
        ...modelEgress(c.models),
        ...(c.services.ingress ? ingressEgress(ingressInput(c)) : []),
        ...telemetryEgress(logAgentKeyFingerprints, vm),
      ],
    },
    ...Object.keys(c.containers).map((key) => {
      const guest = `${c.role}-${key}`;
      return { guest, egress: [...distributionEgress(LXC_OS, guest, { ntp: false }), ...telemetryEgress(logAgentKeyFingerprints, guest)] };
    }),
  ];
}
