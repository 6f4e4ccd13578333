// Runs component constructors under Pulumi mocks (preview mode: inputs echoed, computed values unknown) and
// returns what was registered, with parents, sanitised inputs and options.
import * as pulumi from "@pulumi/pulumi";
import { recordRegistrations, settle, withNestedComputed, type PlannedResource } from "../../ops/engine";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const outputModule = require("@pulumi/pulumi/output");

export const GENERATED_SECRET = "generated-secret-value-for-tests";

/**
 * `state` replaces what a resource's mock returns (default: its inputs, with what the provider computes inside lists
 * unknown, as the offline engine has it).
 */
export async function underMocks(
  build: () => void,
  stack = "test",
  state: (type: string, inputs: Record<string, unknown>) => Record<string, unknown> = (type, inputs) =>
    withNestedComputed(type, inputs, () => outputModule.unknown),
): Promise<PlannedResource[]> {
  await pulumi.runtime.setMocks(
    {
      // Generated secrets get a known value here, so tests can prove it never shows up unredacted.
      newResource: (args) => ({
        id: "",
        state: args.type === "random:index/randomPassword:RandomPassword" ? { ...args.inputs, result: GENERATED_SECRET } : state(args.type, args.inputs),
      }),
      call: () => ({}),
    },
    "ai-dualstack",
    stack,
    true,
  );
  const recorded = recordRegistrations();
  build();
  await settle();
  return recorded;
}

export function byType(resources: PlannedResource[], type: string): PlannedResource[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: PlannedResource[], type: string, name?: string): PlannedResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
  return found[0];
}

export const T = {
  vm: "proxmoxve:index/vmLegacy:VmLegacy",
  ct: "proxmoxve:index/containerLegacy:ContainerLegacy",
  file: "proxmoxve:index/fileLegacy:FileLegacy",
  download: "proxmoxve:download/file:File",
  pci: "proxmoxve:hardware/mapping/pci:Pci",
  bridge: "proxmoxve:network/linux/bridge:Bridge",
  vlan: "proxmoxve:network/linux/vlan:Vlan",
  zfspool: "proxmoxve:storage/zfspool:Zfspool",
  directory: "proxmoxve:storage/directory:Directory",
  zfs: "proxmoxve:node/disk/zfs:Zfs",
  pool: "proxmoxve:index/poolLegacy:PoolLegacy",
  role: "proxmoxve:index/roleLegacy:RoleLegacy",
  user: "proxmoxve:index/userLegacy:UserLegacy",
  token: "proxmoxve:user/token:Token",
  acl: "proxmoxve:index/acl:Acl",
  clusterFirewall: "proxmoxve:cluster/firewallLegacy:FirewallLegacy",
  group: "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy",
  rules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
  ipset: "proxmoxve:firewall/ipsetLegacy:IpsetLegacy",
  options: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
  remote: "command:remote:Command",
  local: "command:local:Command",
} as const;
