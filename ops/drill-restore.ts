// `dualstack drill restore <stack>`: the non-destructive drill, runnable every week. Each guest's latest image backup
// is restored into a scratch VMID in the drill pool, cut off from every network and passthrough device, booted, and
// checked against what the running environment holds (a VM's model manifests by their sha256, through its guest
// agent); then the scratch guest is deleted. The report gives each guest's restore time (RTO) and its backup's age
// (RPO). Then the stack's restic repository is read back: the latest snapshot of every source, in full, its sha256
// set beside a dump of the source made now (the sources' RPO is their snapshots' age). Nothing here touches a running
// guest or a backup: the dependencies offer no such call, and the only guests removed are the scratch ones this run
// restored.
import type { ResticReadBack } from "../lib/backup/restic";
import { gpuVmModelsDir, manifestPath } from "../lib/ollama-store";
import type { BackupRef, DrillGuest, DrillPlan, Inventory } from "./drill";

/** Where scratch guests go: a pool of their own and a VMID range no environment uses. */
export interface ScratchSpace {
  pool: string;
  firstVmId: number;
  lastVmId: number;
}

export interface ScratchGuests {
  latestBackup(g: DrillGuest): Promise<BackupRef | undefined>;
  /** Whether a guest has this VMID anywhere in the cluster. */
  taken(vmId: number): Promise<boolean>;
  /**
   * Restores `backup` into `scratchId` in the drill pool (new MAC addresses, its disks on the guest's datastore), then
   * takes away its network devices and passthrough devices, its protection and its start at boot. Not started.
   */
  restore(g: DrillGuest, backup: BackupRef, scratchId: number): Promise<void>;
  /** Whether the scratch guest exists (a failed restore may or may not leave one). */
  exists(g: DrillGuest, scratchId: number): Promise<boolean>;
  /** Starts it and waits until it runs; a VM until its guest agent answers. */
  boot(g: DrillGuest, scratchId: number): Promise<void>;
  /** The sha256 of each file in the running scratch VM (through its guest agent); a missing file has none. */
  hashFiles(g: DrillGuest, scratchId: number, paths: string[]): Promise<Record<string, string | undefined>>;
  /** Stops the scratch guest and deletes it with its disks; refused for a guest outside the drill pool. */
  remove(g: DrillGuest, scratchId: number): Promise<void>;
}

/** The stack's restic repository, read back from the machine that holds its restore script (the GPU VM). */
export interface ResticReader {
  /** Every source's latest snapshot read back (`restore --drill`); "not set up" when the script is not there. */
  readBack(plan: DrillPlan): Promise<ResticReadBack[] | "not set up">;
}

export interface RestoreDrillDeps {
  scratch: ScratchGuests;
  /** Absent: the file-level backups are not read back (said in the report). */
  restic?: ResticReader;
  /** What the running environment holds now: what a restored guest must hold too. */
  inventory(plan: DrillPlan): Promise<Inventory>;
  now(): number;
  log(line: string): void;
}

export interface GuestRestoreResult {
  guest: string;
  vmId: number;
  scratchId?: number;
  backup?: string;
  status: "ok" | "failed" | "skipped";
  /** Restore → booted → checked, in seconds. */
  rtoSeconds?: number;
  /** Age of the backup restored, in seconds. */
  rpoSeconds?: number;
  checked: string;
  detail: string;
}

export interface ResticSourceResult {
  source: string;
  status: "ok" | "failed";
  snapshot?: string;
  /** Age of the snapshot, in seconds. */
  rpoSeconds?: number;
  /** How long reading it back took. */
  readSeconds?: number;
  bytes?: number;
  /** The source now against its snapshot: unchanged since, changed since, not dumped here (another machine's). */
  live?: "same" | "changed" | "not here" | "unreadable now";
  detail: string;
}

export interface ResticDrillResult {
  status: "ok" | "failed" | "skipped";
  repository: string;
  sources: ResticSourceResult[];
  detail: string;
}

export interface RestoreDrillReport {
  stack: string;
  ok: boolean;
  guests: GuestRestoreResult[];
  restic?: ResticDrillResult;
  /** The guests' restore times added up: the environment back from its image backups, one guest after another. */
  rtoSeconds?: number;
  /** The oldest backup restored. */
  rpoSeconds?: number;
  leftIn: string;
}

/** What a guest's restored copy must hold: the files and their sha256, from the environment's inventory. */
export function restoreChecks(g: DrillGuest, plan: DrillPlan, inventory: Inventory): Record<string, string> {
  // The GPU VM (the guest with an agent to ask) carries the data disk, and Ollama's models on it; containers have no
  // guest agent.
  if (!g.agent || !g.started) return {};
  const dir = gpuVmModelsDir(plan.stack);
  return Object.fromEntries(
    plan.models.filter((m) => inventory.models[m] !== undefined).map((m) => [`${dir}/${manifestPath(m)}`, inventory.models[m].replace(/^sha256:/, "")]),
  );
}

export async function runRestoreDrill(plan: DrillPlan, space: ScratchSpace, d: RestoreDrillDeps): Promise<RestoreDrillReport> {
  const results: GuestRestoreResult[] = [];
  const used = new Set<number>();
  const inventory = await d.inventory(plan);
  const skipRest = (from: number) => {
    for (const g of plan.guests.slice(from)) results.push({ guest: g.name, vmId: g.vmId, status: "skipped", checked: "", detail: "" });
  };
  const pickScratch = async (): Promise<number> => {
    for (let id = space.firstVmId; id <= space.lastVmId; id++) {
      if (used.has(id)) continue;
      if (!(await d.scratch.taken(id))) return id;
    }
    throw new Error(`no free VMID in the drill range ${space.firstVmId}-${space.lastVmId}: every one is taken (nothing was restored)`);
  };

  for (const [i, g] of plan.guests.entries()) {
    const result: GuestRestoreResult = { guest: g.name, vmId: g.vmId, status: "failed", checked: "", detail: "" };
    results.push(result);
    let scratchId: number | undefined;
    let stage = "finding its latest backup";
    try {
      const backup = await d.scratch.latestBackup(g);
      if (!backup) throw new Error(`no backup of ${g.name} (${g.vmId}) to restore`);
      result.backup = backup.volid;
      const start = d.now();
      result.rpoSeconds = Math.max(0, start - backup.time);
      stage = "choosing a scratch VMID";
      scratchId = await pickScratch();
      used.add(scratchId);
      result.scratchId = scratchId;
      stage = `restoring ${backup.volid} into ${scratchId}`;
      d.log(`${g.name} (${g.vmId}): ${stage} (pool ${space.pool}, no network)`);
      await d.scratch.restore(g, backup, scratchId);
      if (g.started) {
        stage = `booting ${scratchId}`;
        d.log(`${g.name}: ${stage}`);
        await d.scratch.boot(g, scratchId);
        const checks = restoreChecks(g, plan, inventory);
        const paths = Object.keys(checks);
        if (paths.length) {
          stage = `checking ${paths.length} file(s) in ${scratchId}`;
          const hashes = await d.scratch.hashFiles(g, scratchId, paths);
          const problems = paths.flatMap((p) =>
            hashes[p] === undefined
              ? [`${p} is missing`]
              : hashes[p] !== checks[p]
                ? [`${p} has sha256 ${hashes[p]!.slice(0, 12)}, expected ${checks[p].slice(0, 12)}`]
                : [],
          );
          if (problems.length) throw new Error(`the restored copy differs: ${problems.join("; ")}`);
          result.checked = `${paths.length} model manifest(s) by sha256`;
        } else {
          result.checked = g.kind === "ct" ? "booted (a container has no guest agent: contents not checked)" : "booted";
        }
      } else {
        result.checked = "restored (the data disk's holder is never started)";
      }
      result.rtoSeconds = d.now() - start;
      result.status = "ok";
    } catch (err) {
      result.detail = `${stage}: ${(err as Error).message}`;
      d.log(`${g.name}: FAILED ${result.detail}`);
    }
    if (scratchId !== undefined) {
      const cleanup = await removeScratch(d, g, scratchId);
      if (cleanup) {
        result.status = "failed";
        result.detail = [result.detail, cleanup].filter(Boolean).join("; ");
        skipRest(i + 1);
        return {
          stack: plan.stack,
          ok: false,
          guests: results,
          leftIn: `scratch guest ${scratchId} (a copy of ${g.name}, no network) is still in pool ${space.pool}: remove it (qm destroy ${scratchId} --purge, after protection off) and run the drill again; the environment was not touched`,
        };
      }
    }
    if (result.status !== "ok") {
      skipRest(i + 1);
      return {
        stack: plan.stack,
        ok: false,
        guests: results,
        leftIn: "the environment was not touched; no scratch guest left; run the drill again once mended",
      };
    }
    d.log(`${g.name}: ok (${result.checked}; ${result.rtoSeconds!.toFixed(0)} s)`);
  }
  const restic = await readBackRestic(plan, d);
  const sources = restic.sources.filter((r) => r.status === "ok");
  return {
    stack: plan.stack,
    ok: restic.status !== "failed",
    guests: results,
    restic,
    rtoSeconds: results.reduce((s, r) => s + (r.rtoSeconds ?? 0), 0) + sources.reduce((s, r) => s + (r.readSeconds ?? 0), 0),
    rpoSeconds: Math.max(0, ...results.map((r) => r.rpoSeconds ?? 0), ...sources.map((r) => r.rpoSeconds ?? 0)),
    leftIn:
      restic.status === "failed"
        ? `the environment was not touched; every scratch guest removed; backups kept; the restic repository ${restic.repository} did not read back (${restic.detail}): run its check (ai-dualstack-restic-check-${restic.repository}) on the backup container`
        : "the environment was not touched; every scratch guest removed; backups kept",
  };
}

/** The restic read-back: every source's latest snapshot read in full; one that cannot be read fails the drill. */
export async function readBackRestic(plan: DrillPlan, d: Pick<RestoreDrillDeps, "restic" | "now" | "log">): Promise<ResticDrillResult> {
  const repository = plan.resticRepository;
  const skipped = (detail: string): ResticDrillResult => ({ status: "skipped", repository, sources: [], detail });
  if (!plan.resticOnGpuVm) return skipped("file-level backups are off in this stack (no restic on its GPU VM)");
  if (!d.restic) return skipped("not read back: no way to reach the GPU VM given");
  d.log(`restic ${repository}: reading back the latest snapshot of every source`);
  let read: ResticReadBack[] | "not set up";
  try {
    read = await d.restic.readBack(plan);
  } catch (err) {
    return { status: "failed", repository, sources: [], detail: (err as Error).message };
  }
  if (read === "not set up")
    return {
      status: "failed",
      repository,
      sources: [],
      detail: `the stack installs restic on its GPU VM but its restore script is not there: run pulumi up --stack ${plan.stack}`,
    };
  const now = d.now();
  const sources: ResticSourceResult[] = read.map((r) =>
    r.status === "failed"
      ? { source: r.source, status: "failed", detail: r.reason }
      : {
          source: r.source,
          status: "ok",
          snapshot: r.snapshot.slice(0, 8),
          rpoSeconds: Math.max(0, now - r.time),
          readSeconds: r.milliseconds / 1000,
          bytes: r.bytes,
          live: r.live === undefined ? "not here" : r.live === "unreadable" ? "unreadable now" : r.live === r.sha256 ? "same" : "changed",
          detail: `sha256 ${r.sha256.slice(0, 12)}`,
        },
  );
  const failed = sources.filter((r) => r.status === "failed");
  for (const r of sources) d.log(`restic ${repository}: ${r.source} ${r.status === "ok" ? `read back (${r.detail}, ${r.live})` : `FAILED: ${r.detail}`}`);
  if (!sources.length) return { status: "failed", repository, sources, detail: "the read-back named no source" };
  return failed.length
    ? { status: "failed", repository, sources, detail: `${failed.map((r) => r.source).join(", ")} could not be read back` }
    : { status: "ok", repository, sources, detail: `${sources.length} source(s) read back in full` };
}

/** Removes a scratch guest if it is there; what went wrong, or undefined when none is left. */
async function removeScratch(d: RestoreDrillDeps, g: DrillGuest, scratchId: number): Promise<string | undefined> {
  try {
    if (!(await d.scratch.exists(g, scratchId))) return undefined;
    d.log(`${g.name}: removing scratch guest ${scratchId}`);
    await d.scratch.remove(g, scratchId);
    return undefined;
  } catch (err) {
    return `removing scratch guest ${scratchId}: ${(err as Error).message}`;
  }
}

const LIVE_WORDS: Record<NonNullable<ResticSourceResult["live"]>, string> = {
  same: "the source is unchanged since",
  changed: "the source has changed since",
  "not here": "another machine's source (not dumped here)",
  "unreadable now": "the source could not be dumped now to compare",
};

export function renderRestoreDrillReport(r: RestoreDrillReport): string {
  const minutes = (s: number | undefined) => (s === undefined ? "" : `${(s / 60).toFixed(1)} min`);
  const lines = r.guests.map((g) =>
    [
      `  ${g.status.padEnd(7)} ${g.guest} (${g.vmId})`,
      g.scratchId !== undefined ? ` → ${g.scratchId}` : "",
      g.backup ? ` from ${g.backup}` : "",
      g.rtoSeconds !== undefined ? `, RTO ${minutes(g.rtoSeconds)}` : "",
      g.rpoSeconds !== undefined ? `, RPO ${minutes(g.rpoSeconds)}` : "",
      g.checked ? `: ${g.checked}` : "",
      g.detail ? `: ${g.detail}` : "",
    ].join(""),
  );
  if (r.restic) {
    lines.push(`  restic ${r.restic.repository}: ${r.restic.status}: ${r.restic.detail}`);
    for (const s of r.restic.sources)
      lines.push(
        [
          `    ${s.status.padEnd(7)} ${s.source}`,
          s.snapshot ? ` from snapshot ${s.snapshot}` : "",
          s.rpoSeconds !== undefined ? `, RPO ${minutes(s.rpoSeconds)}` : "",
          s.readSeconds !== undefined ? `, read back in ${s.readSeconds.toFixed(1)} s` : "",
          s.bytes !== undefined ? `, ${s.bytes} bytes` : "",
          `: ${s.detail}`,
          s.live ? `; ${LIVE_WORDS[s.live]}` : "",
        ].join(""),
      );
  }
  const measured = r.ok ? ` (RTO ${minutes(r.rtoSeconds)}, RPO ${minutes(r.rpoSeconds)})` : "";
  return `drill restore ${r.stack}: ${r.ok ? "PASSED" : "FAILED"}${measured}\n${lines.join("\n")}\nleft in: ${r.leftIn}\n`;
}
