import { guestEnvironment, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";
import { VM } from "../support/types";

type HostPci = { mapping?: string; id?: string; device?: string };
const hostpcis = (props: Record<string, any>): HostPci[] => (Array.isArray(props.hostpcis) ? props.hostpcis : []);

export const pciThroughMapping: Rule = () => ({
  name: "pci-through-mapping",
  description: "PCI devices reach guests only through cluster resource mappings, never by raw id.",
  reason: "A raw hostpci id bypasses Mapping.Use (the token could pass any device through) and needs root@pam; a mapping also detects hardware changes.",
  source: "security-and-dr.md rule 5; PVE qm.adoc resource mapping; bpg#495",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    for (const p of hostpcis(args.props)) {
      if (p.id || !p.mapping) report(`${args.name} ${p.device ?? "hostpci"} uses ${p.id ? `the raw PCI id ${p.id}` : "no mapping"}; use a hardware.mapping.Pci`);
    }
  },
});

export const gpuOfOwnEnvironment: Rule = (t) => ({
  name: "gpu-of-own-environment",
  description: "A guest uses only the GPU mappings of its own environment; the private GPU never appears in a public guest.",
  reason: "A passed-through device belongs to one guest; GPU memory may keep data across a hand-over, so each environment keeps its own card.",
  source: "security-and-dr.md rule 6; PVE qm-pci-passthrough.adoc",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    const env = guestEnvironment(args.props);
    if (!env) return;
    for (const p of hostpcis(args.props)) {
      if (!p.mapping || t.environments[env].gpuMappings.includes(p.mapping)) continue;
      const owner = Object.entries(t.environments).find(([, z]) => z.gpuMappings.includes(p.mapping!))?.[0];
      report(`${args.name} (env-${env}) uses the GPU mapping ${p.mapping}${owner ? `, which belongs to the ${owner} environment` : ", which no environment owns"}`);
    }
  },
});

export const gpuSingleEnvironment: Rule = () => ({
  name: "gpu-single-environment",
  description: "No GPU mapping is used by guests of two environments.",
  reason: "Each GPU is permanently assigned to one environment; sharing it would hand device memory between them.",
  source: "security-and-dr.md rule 6",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const users = new Map<string, Set<string>>();
    for (const r of args.resources) {
      if (!isGuest(r.type)) continue;
      const env = guestEnvironment(r.props) ?? "untagged";
      for (const p of hostpcis(r.props)) if (p.mapping) users.set(p.mapping, new Set([...(users.get(p.mapping) ?? []), env]));
    }
    for (const [mapping, envs] of users) if (envs.size > 1) report(`GPU mapping ${mapping} is used by guests of ${[...envs].sort().join(" and ")}`);
  },
});
