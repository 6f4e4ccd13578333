// Least-privilege access for the environment stacks: what each environment's API token may touch, as plain data.
// The token reaches only its own pool, its own zone bridge, its own GPU mapping and its own datastores.
import type { EnvironmentName } from "./config/schema";

/** Privileges to create, configure, run and back up guests inside the environment's pool. */
export const GUEST_PRIVILEGES = [
  "VM.Allocate",
  "VM.Audit",
  "VM.Backup",
  "VM.Clone",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.GuestAgent.Audit",
  "VM.PowerMgmt",
  "VM.Snapshot",
  "Pool.Audit",
] as const;

/** Privileges to place guest disks and read the environment's files (images, templates, snippets). */
export const STORAGE_PRIVILEGES = ["Datastore.AllocateSpace", "Datastore.Audit"] as const;

/** Privileges that an environment role must never carry: they reach beyond the environment. */
export const FORBIDDEN_PRIVILEGES = [
  "Permissions.Modify",
  "Sys.Modify",
  "Sys.PowerMgmt",
  "Sys.Console",
  "Sys.AccessNetwork",
  "Datastore.Allocate",
  "Pool.Allocate",
  "User.Modify",
  "Realm.Allocate",
  "Mapping.Modify",
  "SDN.Allocate",
] as const;

export interface AclEntry {
  path: string;
  /** A role created by the program (key of `roles`) or a built-in Proxmox role. */
  roleId: string;
  propagate: boolean;
}

export interface EnvironmentAccessPlan {
  userId: string;
  tokenName: string;
  /** The token id as Proxmox names it: user@realm!name. */
  tokenId: string;
  roles: Record<string, readonly string[]>;
  acls: AclEntry[];
}

export interface EnvironmentAccessInput {
  env: EnvironmentName;
  pool: string;
  bridge: string;
  gpuMappings: string[];
  datastores: string[];
  nodes: string[];
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function planEnvironmentAccess(input: EnvironmentAccessInput): EnvironmentAccessPlan {
  const userId = `ai-${input.env}@pve`;
  const tokenName = "deploy";
  const guestRole = `AiDualstack${capitalise(input.env)}Guests`;
  const storageRole = `AiDualstack${capitalise(input.env)}Storage`;
  const acls: AclEntry[] = [
    { path: `/pool/${input.pool}`, roleId: guestRole, propagate: true },
    ...input.datastores.map((ds) => ({ path: `/storage/${ds}`, roleId: storageRole, propagate: false })),
    // Local bridges live in the "localnetwork" SDN zone; SDN.Use on the bridge lets a guest NIC attach to it.
    { path: `/sdn/zones/localnetwork/${input.bridge}`, roleId: "PVESDNUser", propagate: true },
    // Mapping.Use on the mapping, so the token can pass the GPU through without root@pam.
    ...input.gpuMappings.map((m) => ({ path: `/mapping/pci/${m}`, roleId: "PVEMappingUser", propagate: false })),
    // Read-only node status, needed to place guests and read task logs.
    ...input.nodes.map((n) => ({ path: `/nodes/${n}`, roleId: "PVEAuditor", propagate: false })),
  ];
  return {
    userId,
    tokenName,
    tokenId: `${userId}!${tokenName}`,
    roles: { [guestRole]: GUEST_PRIVILEGES, [storageRole]: STORAGE_PRIVILEGES },
    acls,
  };
}

/** Problems with an access plan: ACLs beyond the environment, forbidden privileges. Empty when sound. */
export function auditAccessPlan(plan: EnvironmentAccessPlan, input: EnvironmentAccessInput): string[] {
  const problems: string[] = [];
  for (const [role, privs] of Object.entries(plan.roles)) {
    for (const p of privs) if ((FORBIDDEN_PRIVILEGES as readonly string[]).includes(p)) problems.push(`role ${role} carries ${p}`);
  }
  const allowed = [
    `/pool/${input.pool}`,
    `/sdn/zones/localnetwork/${input.bridge}`,
    ...input.datastores.map((d) => `/storage/${d}`),
    ...input.gpuMappings.map((m) => `/mapping/pci/${m}`),
    ...input.nodes.map((n) => `/nodes/${n}`),
  ];
  for (const acl of plan.acls) {
    if (!allowed.includes(acl.path)) problems.push(`ACL on ${acl.path} reaches beyond the ${input.env} environment`);
  }
  return problems;
}
