// Type tokens of the pinned provider major versions (@muhlba91/pulumi-proxmoxve 8.x, @pulumi/docker 5.x).
// A provider upgrade that renames them makes `unknown-guest-type` fire, so rules cannot silently stop matching.

export const VM = "proxmoxve:index/vmLegacy:VmLegacy";
export const CT = "proxmoxve:index/containerLegacy:ContainerLegacy";
export const GUEST_TYPES = [VM, CT] as const;

/** Guest types this pack does not (or no longer) check: every one of them is a violation. */
export const UNCHECKED_GUEST_TYPES = [
  "proxmoxve:index/vm:Vm",
  "proxmoxve:index/vm2Legacy:Vm2Legacy",
  "proxmoxve:cloned/vmLegacy:VmLegacy",
  "proxmoxve:VM/virtualMachine:VirtualMachine",
  "proxmoxve:CT/container:Container",
] as const;

export const FILE = "proxmoxve:index/fileLegacy:FileLegacy";
export const FIREWALL_OPTIONS = "proxmoxve:firewall/optionsLegacy:OptionsLegacy";
export const FIREWALL_RULES = "proxmoxve:firewall/rulesLegacy:RulesLegacy";
export const SECURITY_GROUP = "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy";
export const CLUSTER_FIREWALL = "proxmoxve:cluster/firewallLegacy:FirewallLegacy";
export const BACKUP_JOB = "proxmoxve:backup/job:Job";
export const PBS_STORAGE = "proxmoxve:storage/pbs:Pbs";
export const PROXMOX_PROVIDER = "pulumi:providers:proxmoxve";
export const DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage";
export const DOCKER_CONTAINER = "docker:index/container:Container";
export const OLLAMA_MODEL = "pulumi-nodejs:dynamic/ollama:Model";

/** Any type of the proxmoxve package that looks like a guest (a VM or a container), known or not. */
export function looksLikeGuest(type: string): boolean {
  return /^proxmoxve:[^:]*:(Vm|VmLegacy|Vm2Legacy|VirtualMachine|Container|ContainerLegacy)$/.test(type);
}
