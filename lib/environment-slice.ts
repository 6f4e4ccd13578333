// The contract between the host stack and an environment stack: the slice of the host that one environment may
// use. Derived from the host config alone, so every isolation-relevant value is known at preview time.
import type { GpuRef } from "./capacity/report";
import { appRoleOf, kvMountOf } from "./vault/access";
import { VAULT_PORT } from "./vault/server";
import { catalogOf, type BackupConfig, type EnvironmentConfig, type EnvironmentName, type HostConfig } from "./config/schema";
import { resticRemote } from "./backup/plan";
import { LOG_GATEWAY_PORTS, LOKI_PUSH_PATH } from "./monitoring/loki";
import { ipOf, isHostAddress, parseCidr, parseInterfaceAddress } from "./net";
import { aptProxyUrl } from "./package-cache";
import { describeEnvironment, environmentMemory } from "./capacity/host-memory";

export interface EnvironmentSlice {
  env: EnvironmentName;
  zone: { bridge: string; vlanId: number; cidr: string; gateway: string };
  pool: string;
  gpuMapping: string;
  /** The facts of the environment's GPU, from the host's catalog, for the capacity planner. */
  gpu: GpuRef;
  datastores: { guests: string; files: string };
  images: { cloudImage: string; lxcTemplate: string };
  nodes: { name: string; address: string }[];
  tokenId: string;
  /** The operators' networks (the management zone's admin CIDRs): where provisioning connections come from. */
  operatorCidrs: string[];
  /** Vault in the platform's security LXC: this environment's KV v2 mount and the AppRole it logs in with. */
  vault: { address: string; mount: string; appRole: string };
  /** This environment's restic repository on the platform's backup LXC, and the file-level backup settings. */
  backup: { repository: string; restic: BackupConfig["restic"] };
  /** The platform's package cache: apt's http proxy on this environment's guests (the public zone's only mirror). */
  packages: { aptProxy: string };
  /** The node that holds the environment's GPU, where its guests run, and the host memory they may take. */
  memory: { node: string; budgetGiB: number };
  /** Where this environment's guests push their logs (its port of the log gateway) and the log agent to install. */
  monitoring: { address: string; logPushUrl: string; alloyVersion: string; aptKeyFingerprints: string[] };
}

/** The per-environment Vault objects the host sets up and the environment uses. */
export function vaultOf(host: HostConfig, env: EnvironmentName): EnvironmentSlice["vault"] {
  return { address: vaultAddressOf(host), mount: kvMountOf(env), appRole: appRoleOf(env) };
}

/** The monitoring container as an environment sees it: its log gateway port and the log agent's version. */
export function monitoringOf(host: HostConfig, env: EnvironmentName): EnvironmentSlice["monitoring"] {
  const address = ipOf(host.platform.containers.monitoring.address);
  const m = host.platform.monitoring;
  return {
    address,
    logPushUrl: `https://${address}:${LOG_GATEWAY_PORTS[env]}${LOKI_PUSH_PATH}`,
    alloyVersion: m.alloyVersion,
    aptKeyFingerprints: [...m.aptKeyFingerprints],
  };
}

/** Vault's address: the security container's IP, port 8200. */
export function vaultAddressOf(host: HostConfig): string {
  return `https://${ipOf(host.platform.containers.security.address)}:${VAULT_PORT}`;
}

/** Proxmox volume ids of downloaded files: "<storage>:<content>/<file>". */
export const fileId = (datastore: string, content: "import" | "vztmpl", file: string) => `${datastore}:${content}/${file}`;

export function datastoresFor(mirrorPool: string, dataset: string) {
  return { guests: `${mirrorPool}-${dataset}`, files: `files-${dataset}` };
}

export function mirrorPoolOf(host: HostConfig, mirrorName: string): string {
  for (const n of host.nodes) if (n.mirrors[mirrorName]) return n.mirrors[mirrorName].pool;
  throw new Error(`no mirror named ${mirrorName}`); // the schema already rejects this
}

export function environmentSlice(host: HostConfig, env: EnvironmentName, tokenId: string): EnvironmentSlice {
  const access = host.environments[env];
  const zone = host.networks[env];
  const gpuNode = host.nodes.find((n) => n.gpus.some((g) => g.environment === env));
  const gpu = gpuNode?.gpus.find((g) => g.environment === env);
  if (!gpuNode || !gpu) throw new Error(`no GPU for ${env}`); // the schema already rejects this
  const datastores = datastoresFor(mirrorPoolOf(host, access.mirror), env);
  return {
    env,
    zone: { bridge: zone.bridge, vlanId: zone.vlanId, cidr: zone.cidr, gateway: zone.gateway },
    pool: access.pool,
    gpuMapping: gpu.mapping,
    gpu: { catalog: gpu.catalog, ...catalogOf(host.catalog).gpus[gpu.catalog] },
    datastores,
    images: {
      cloudImage: fileId(datastores.files, "import", access.cloudImage.fileName),
      lxcTemplate: fileId(datastores.files, "vztmpl", access.lxcTemplate.fileName),
    },
    nodes: host.nodes.map((n) => ({ name: n.name, address: n.address })),
    tokenId,
    operatorCidrs: [...host.networks.mgmt.adminCidrs],
    vault: vaultOf(host, env),
    backup: { repository: resticRemote(env, ipOf(host.platform.containers.backup.address)), restic: host.backup.restic },
    monitoring: monitoringOf(host, env),
    memory: { node: gpuNode.name, budgetGiB: access.memoryGiB },
    packages: { aptProxy: aptProxyUrl(ipOf(host.platform.containers.packages.address)) },
  };
}

/** Problems between an environment's config and the slice the host gives it, by key path. */
export function checkAgainstSlice(config: EnvironmentConfig, slice: EnvironmentSlice | undefined, hostStack: string): string[] {
  const p = "ai-dualstack:";
  if (!slice) {
    return [`${p}hostStack: the host stack "${hostStack}" has no environments.${config.role} output; run \`pulumi up\` on the host stack first`];
  }
  if (slice.env !== config.role) return [`${p}role: the host slice is for "${slice.env}", this stack is "${config.role}"`];
  const problems: string[] = [];
  if (config.tenants.length > 0 && !slice.vault)
    problems.push(`${p}tenants: the host stack "${hostStack}" gives this environment no Vault yet; run \`pulumi up\` on the host stack first`);
  if (!slice.packages) {
    problems.push(
      `${p}hostStack: the host stack "${hostStack}" offers no package cache yet (platform.containers.packages); run \`pulumi up\` on the host stack first`,
    );
  }
  if (!slice.nodes.some((n) => n.name === config.node)) {
    problems.push(`${p}node: expected one of the host's nodes (${slice.nodes.map((n) => `"${n.name}"`).join(", ")}), got "${config.node}"`);
  }
  if (!slice.memory) {
    problems.push(`${p}hostStack: the host stack "${hostStack}" gives this environment no memory budget yet; run \`pulumi up\` on the host stack first`);
  } else {
    if (config.node !== slice.memory.node && slice.nodes.some((n) => n.name === config.node)) {
      problems.push(`${p}node: expected "${slice.memory.node}", the node that holds the ${config.role} environment's GPU, got "${config.node}"`);
    }
    const memory = environmentMemory(config, slice.memory.budgetGiB);
    if (!memory.fits) {
      problems.push(
        `${p}gpuVm.memoryGiB: the ${config.role} environment's guests take ${describeEnvironment(memory)} the host stack gives it (environments.${config.role}.memoryGiB); lower gpuVm.memoryGiB or a container's memoryMiB, or raise the budget in the host stack`,
      );
    }
  }
  const zone = parseCidr(slice.zone.cidr)!;
  const addresses: [string, string][] = [
    ["gpuVm.address", config.gpuVm.address],
    ["containers.postgres.address", config.containers.postgres.address],
    ["containers.redis.address", config.containers.redis.address],
  ];
  const seen = new Map<string, string>();
  for (const [key, address] of addresses) {
    const parsed = parseInterfaceAddress(address)!;
    if (parsed.subnet.prefix !== zone.prefix || !isHostAddress(zone, parsed.ip)) {
      problems.push(`${p}${key}: expected a host address inside the ${config.role} zone ${slice.zone.cidr} with the same prefix, got "${address}"`);
    } else if (ipOf(address) === slice.zone.gateway) {
      problems.push(`${p}${key}: "${address}" is the zone gateway`);
    }
    const ip = ipOf(address);
    if (seen.has(ip)) problems.push(`${p}${key}: address ${ip} is already used by ${seen.get(ip)}`);
    else seen.set(ip, key);
  }
  // The zone's firewall admits DNS only to its gateway (lib/firewall.ts): another server would never answer.
  config.gpuVm.nameservers.forEach((ns, i) => {
    if (ns !== slice.zone.gateway) {
      problems.push(
        `${p}gpuVm.nameservers[${i}]: expected the ${config.role} zone's gateway ${slice.zone.gateway} (the only DNS server its firewall lets the guests reach), got "${ns}"`,
      );
    }
  });
  return problems;
}

/**
 * The token an environment stack deploys with must be its own environment's ("<tokenId>=<secret>"). The message
 * never shows the token.
 */
export function checkToken(token: string, slice: EnvironmentSlice): string[] {
  const [identity] = token.split("=", 1);
  if (token.startsWith(`${slice.tokenId}=`) && token.length > slice.tokenId.length + 1) return [];
  const other = /^[^=]+![^=]+$/.test(identity) && token.includes("=") ? `a token of ${identity}` : "something that is not an API token";
  return [`ai-dualstack:proxmoxApiToken: expected the ${slice.env} environment's token (${slice.tokenId}=…), got ${other}`];
}
