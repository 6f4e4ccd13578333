// The live drill's dependencies (ops/drill.ts DrillDeps): Proxmox through its API (backups in the PBS storage,
// protected vzdump, restore), the restic verification as Prometheus last saw it, and the inventory through each
// environment's TLS gateway (Ollama's models and digests, Qdrant's and Chroma's collections and their exact counts,
// the services' health endpoints). Everything is reached with the credentials the operator gives; nothing here
// deletes anything.
import { parseResticDrill, resticScriptPath } from "../lib/backup/restic";
import type { DrillDeps, DrillGuest, DrillPlan, Inventory } from "./drill";
import type { ResticReader, ScratchGuests, ScratchSpace } from "./drill-restore";
import type { GuestKind, ProxmoxApi } from "./proxmox-api";
import { tlsFetch } from "./tls-fetch";

/** What each service behind a gateway answers when healthy (Qdrant's and Chroma's need no key). */
export const HEALTH_PATHS: Record<string, string> = {
  ollama: "/api/version",
  qdrant: "/readyz",
  chroma: "/api/v2/heartbeat",
  "open-webui": "/health",
};

export interface VerifyTargets {
  ollamaUrl: string;
  /** The environment CA (PEM): every gateway's certificate chains to it. */
  caCert?: string;
  qdrant?: { url: string; apiKey: string };
  chroma?: { url: string };
  /** The gateway's services and their base URLs ("qdrant" → "https://10.30.0.10:6333"). */
  services: Record<string, string>;
}

export interface LiveDrillOptions {
  api: ProxmoxApi;
  /** The PBS storage the vzdump jobs write to (host config backup.pbs.storageId). */
  backupStorage: string;
  /** Where the guests' disks go on a restore (the environment's guest datastore). */
  restoreStorage: (guest: DrillGuest) => string;
  /** Prometheus in the monitoring container, and how old the last restic check may be. */
  prometheusUrl: string;
  checkMaxAgeHours: number;
  /** How long a restored VM's guest agent may take to answer once it is started. */
  agentWaitSeconds: number;
  verify: VerifyTargets;
  log: (line: string) => void;
}

/** Through the gateways: their certificates checked against the environment CA; every call bounded to 30 s. */
function caFetch(ca: string | undefined): (url: string, init?: RequestInit) => Promise<Response> {
  const base = tlsFetch({ ca });
  return (url, init) => base(url, { ...init, signal: AbortSignal.timeout(30_000) });
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

/** The inventory: every model with its digest, every collection with its exact count, the unhealthy services. */
export async function takeInventory(t: VerifyTargets): Promise<Inventory> {
  const get = caFetch(t.caCert);
  const tags = await json<{ models: { name: string; digest: string }[] }>(await get(`${t.ollamaUrl}/api/tags`), "Ollama's model list");
  const models = Object.fromEntries(tags.models.map((m) => [m.name, m.digest]));
  const collections: Record<string, number> = {};
  if (t.qdrant) {
    const headers = { "api-key": t.qdrant.apiKey, "content-type": "application/json" };
    const list = await json<{ result: { collections: { name: string }[] } }>(await get(`${t.qdrant.url}/collections`, { headers }), "Qdrant's collections");
    for (const { name } of list.result.collections) {
      const r = await json<{ result: { count: number } }>(
        await get(`${t.qdrant.url}/collections/${encodeURIComponent(name)}/points/count`, { method: "POST", headers, body: JSON.stringify({ exact: true }) }),
        `Qdrant's count of ${name}`,
      );
      collections[`qdrant/${name}`] = r.result.count;
    }
  }
  if (t.chroma) {
    const base = `${t.chroma.url}/api/v2/tenants/default_tenant/databases/default_database/collections`;
    const list = await json<{ id: string; name: string }[]>(await get(base), "Chroma's collections");
    for (const c of list) collections[`chroma/${c.name}`] = await json<number>(await get(`${base}/${c.id}/count`), `Chroma's count of ${c.name}`);
  }
  const unhealthy: string[] = [];
  for (const [service, url] of Object.entries(t.services)) {
    const path = HEALTH_PATHS[service];
    if (!path) continue;
    try {
      const res = await get(`${url}${path}`);
      await res.arrayBuffer();
      if (!res.ok) unhealthy.push(`${service} (HTTP ${res.status})`);
    } catch (err) {
      unhealthy.push(`${service} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
    }
  }
  return { models, collections, unhealthy };
}

/** The restic check of `repository` as Prometheus last saw it: passed, and recent enough. */
export async function resticCheckPassed(prometheusUrl: string, repository: string, maxAgeHours: number, now: number): Promise<{ ok: boolean; detail: string }> {
  const q = async (expr: string) => {
    const res = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(30_000) });
    const body = await json<{ data: { result: { value: [number, string] }[] } }>(res, "Prometheus");
    return body.data.result.map((r) => Number(r.value[1]));
  };
  const sel = `{repository="${repository.replace(/["\\]/g, "")}"}`;
  const [success] = await q(`max(ai_dualstack_restic_check_success${sel})`);
  const [at] = await q(`max(ai_dualstack_restic_check_timestamp_seconds${sel})`);
  if (success === undefined || at === undefined) return { ok: false, detail: `Prometheus has no restic check of ${repository}` };
  const age = (now - at) / 3600;
  if (success !== 1) return { ok: false, detail: `the last restic check of ${repository} failed` };
  if (age > maxAgeHours) return { ok: false, detail: `the last restic check of ${repository} is ${age.toFixed(1)} h old (at most ${maxAgeHours} h)` };
  return { ok: true, detail: `checked ${age.toFixed(1)} h ago` };
}

const kindOf = (g: DrillGuest): GuestKind => (g.kind === "vm" ? "qemu" : "lxc");

/** A disk volume the holder `vmId` owns, as a drive's value names it ("local-zfs:vm-301-disk-0,size=…"). */
const holderDisk = (vmId: number) => new RegExp(`(^|[:/])vm-${vmId}-disk-\\d+([.,]|$)`);

/** The newest backup of a guest in the PBS storage. */
async function latestBackup(api: ProxmoxApi, storage: string, g: DrillGuest) {
  const [b] = await api.backups(g.node, storage, g.vmId);
  return b ? { volid: b.volid, time: b.ctime } : undefined;
}

/** `sha256sum` output ("<hex>  <path>" lines) as path → hash. */
export function parseSha256sum(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split("\n")
      .map((l) => /^([0-9a-f]{64}) [ *](.+)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[2], m[1]]),
  );
}

/** The restore drill's scratch guests on the real Proxmox: restored into the drill pool, booted, asked, deleted. */
export function liveScratchGuests(o: {
  api: ProxmoxApi;
  backupStorage: string;
  restoreStorage: (guest: DrillGuest) => string;
  space: ScratchSpace;
  /** How long a booted VM's guest agent may take to answer. */
  agentWaitSeconds: number;
  log: (line: string) => void;
}): ScratchGuests {
  return {
    latestBackup: (g) => latestBackup(o.api, o.backupStorage, g),
    taken: (vmId) => o.api.vmIdTaken(vmId),
    restore: (g, b, id) => o.api.restoreScratch(g.node, kindOf(g), id, b.volid, o.restoreStorage(g), o.space.pool, o.log),
    exists: (g, id) => o.api.exists(g.node, kindOf(g), id),
    boot: (g, id) => o.api.start(g.node, kindOf(g), id, g.agent ? o.agentWaitSeconds : undefined, o.log),
    hashFiles: async (g, id, paths) => {
      // sha256sum says 1 when a file is missing and hashes the others; anything else is a failure of its own.
      const r = await o.api.agentExec(g.node, id, ["sha256sum", "--", ...paths]);
      if (r.exitcode !== 0 && r.exitcode !== 1) throw new Error(`sha256sum in ${id} exited ${r.exitcode}: ${r.err.trim().slice(0, 300)}`);
      const found = parseSha256sum(r.out);
      return Object.fromEntries(paths.map((p) => [p, found[p]]));
    },
    remove: (g, id) => o.api.destroyScratch(g.node, kindOf(g), id, o.space.pool, o.log),
  };
}

/**
 * The restic read-back on the real GPU VM (the running one, not a scratch copy: it holds the repository's key and
 * reaches the backup container), through its guest agent: `restore --drill`, which writes nothing. A missing
 * script is "not set up"; the read-back of a large repository may take long, so it is given an hour.
 */
export function liveResticReader(api: ProxmoxApi, timeoutSeconds = 3600): ResticReader {
  return {
    readBack: async (plan) => {
      const vm = plan.guests.find((g) => g.kind === "vm" && g.agent && g.started);
      if (!vm) throw new Error(`stack ${plan.stack} has no VM with a guest agent to read the restic repository from`);
      const script = resticScriptPath(plan.resticRepository, "restore");
      const r = await api.agentExec(vm.node, vm.vmId, ["bash", script, "--drill"], timeoutSeconds);
      // bash says 127 for a script that is not there.
      if (r.exitcode === 127) return "not set up";
      const read = parseResticDrill(r.out);
      // Exit 1 with FAILED lines is the drill's own verdict; anything else without a line is the script's failure.
      if (r.exitcode !== 0 && !read.some((x) => x.status === "failed"))
        throw new Error(`${script} --drill in ${vm.name} (${vm.vmId}) exited ${r.exitcode}: ${r.err.trim().slice(-300)}`);
      return read;
    },
  };
}

/** DrillDeps without the workspace and the log, on the real systems. */
export function liveDrillDeps(o: LiveDrillOptions): Omit<DrillDeps, "workspace" | "log"> {
  const now = () => Math.floor(Date.now() / 1000);
  return {
    now,
    proxmox: {
      latestBackup: (g) => latestBackup(o.api, o.backupStorage, g),
      protectedBackup: async (g) => {
        const b = await o.api.protectedBackup(g.node, o.backupStorage, g.vmId, `ai-dualstack drill: ${g.name}`, o.log);
        return { volid: b.volid, time: b.ctime };
      },
      restoreIfMissing: async (g, backup) => {
        if (await o.api.exists(g.node, kindOf(g), g.vmId)) return "present";
        o.log(`  restoring ${g.name} (${g.vmId}) from ${backup.volid}`);
        await o.api.restore(g.node, kindOf(g), g.vmId, backup.volid, o.restoreStorage(g), o.log);
        // A restore leaves the guest stopped; one the stack runs is started (a VM until its guest agent answers),
        // so that the verification finds its services.
        if (g.started) {
          o.log(`  starting ${g.name} (${g.vmId})`);
          await o.api.start(g.node, kindOf(g), g.vmId, g.agent ? o.agentWaitSeconds : undefined, o.log);
        }
        return "restored";
      },
      release: async (g) => {
        if (!(await o.api.exists(g.node, kindOf(g), g.vmId))) return "gone";
        // Its data disk by its volume's name: vm-<holder>-disk-N is the holder's, and a VM's destroy leaves a disk
        // another VM owns in place.
        const config = await o.api.config(g.node, kindOf(g), g.vmId);
        const onHolder = Object.entries(config).filter(([k, v]) => /^(scsi|virtio|sata|ide)\d+$/.test(k) && holderDisk(g.dataHolder!).test(String(v)));
        if (!onHolder.length)
          throw new Error(`${g.name} (${g.vmId}) has no disk of its holder ${g.dataHolder} attached: its data would go with it, so it is left protected`);
        await o.api.setProtection(g.node, kindOf(g), g.vmId, false);
        return "released";
      },
      isProtected: async (g) =>
        (await o.api.exists(g.node, kindOf(g), g.vmId)) && Number((await o.api.config(g.node, kindOf(g), g.vmId)).protection ?? 0) === 1,
    },
    restic: {
      check: async (repository) => {
        const r = await resticCheckPassed(o.prometheusUrl, repository, o.checkMaxAgeHours, now());
        o.log(`  restic: ${r.detail}`);
        return r.ok;
      },
    },
    verify: { inventory: (_plan: DrillPlan) => takeInventory(o.verify) },
  };
}
