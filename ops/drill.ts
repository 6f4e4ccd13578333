// `dualstack drill rebuild <stack> [--dry-run]`: the destructive disaster-recovery drill. Preflight (image backups fresh, the restic
// repository verified), an inventory of what must come back (models with their digests, vector collections with
// their point counts, services healthy), a protected on-demand backup of every guest, destroy of the compute (the GPU
// VM's protection taken off first, in Proxmox and in the state; its data disk's holder, the data containers and the
// volumes stay protected), rebuild, restore, verification against the inventory, and a report with the measured RTO and RPO.
// Every step prints progress; the first failure stops the drill and says what state things were left in. Nothing
// here deletes a backup or a protected resource: the drill's dependencies offer no such call.
import { KEEP_DATA_ENV } from "../components/providers/keep-data";
import { resticInstallName } from "../lib/backup/plan";
import type { PlanResult } from "./engine";
import type { StackWorkspace } from "./workspace";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";
const CT = "proxmoxve:index/containerLegacy:ContainerLegacy";
const MODEL = "pulumi-nodejs:dynamic/ollama:Model";
const COLLECTION = "pulumi-nodejs:dynamic/qdrant:Collection";

export interface DrillGuest {
  vmId: number;
  name: string;
  node: string;
  kind: "vm" | "ct";
  protectedInState: boolean;
  /** Where its disks live (a restore puts them back there). */
  datastore: string;
  /** False for the data disk's holder, which is never started. */
  started: boolean;
  /** A VM with the QEMU guest agent: the GPU VM, where Ollama keeps its models on the data disk. */
  agent: boolean;
  /** Its URN in the stack (the rebuild drill takes a compute guest's protection off by it). */
  urn: string;
  /**
   * Compute the rebuild drill destroys and rebuilds: a started VM whose data disk belongs to the never-started holder
   * beside it (the GPU VM), with that holder's VMID. Absent for every other guest: those stay.
   */
  dataHolder?: number;
}

/** What the drill works on, read from the stack's plan: known before anything is touched. */
export interface DrillPlan {
  stack: string;
  guests: DrillGuest[];
  models: string[];
  collections: string[];
  /** The restic repository holding the stack's file-level backups. */
  resticRepository: string;
  /** Whether the stack installs restic on the GPU VM (file-level backups on): what the restore drill reads back from. */
  resticOnGpuVm: boolean;
  /** How old the newest image backup of a guest may be (the job runs daily). */
  maxBackupAgeHours: number;
}

export function drillPlan(plan: PlanResult, maxBackupAgeHours = 26): DrillPlan {
  const guestResources = plan.resources.filter((r) => (r.type === VM || r.type === CT) && r.inputs.template !== true);
  // A started VM's data disk holder: the never-started VM beside it (the same parent component, gpu-vm.ts).
  const holderOf = (r: (typeof guestResources)[number]) =>
    r.type === VM && r.inputs.started !== false ? guestResources.find((h) => h.type === VM && h.parent === r.parent && h.inputs.started === false) : undefined;
  const guests = guestResources.map((r) => ({
    vmId: Number(r.inputs.vmId),
    name: r.name,
    node: String(r.inputs.nodeName),
    kind: r.type === VM ? ("vm" as const) : ("ct" as const),
    protectedInState: r.options.protect,
    datastore: String(
      (r.inputs.disks as { datastoreId?: string }[] | undefined)?.[0]?.datastoreId ??
        (r.inputs.disk as { datastoreId?: string } | undefined)?.datastoreId ??
        "",
    ),
    started: r.inputs.started !== false,
    agent: r.type === VM && (r.inputs.agent as { enabled?: boolean } | undefined)?.enabled === true,
    urn: r.urn,
    ...(holderOf(r) ? { dataHolder: Number(holderOf(r)!.inputs.vmId) } : {}),
  }));
  return {
    stack: plan.stack,
    guests,
    models: plan.resources.filter((r) => r.type === MODEL).map((r) => String(r.inputs.name)),
    collections: plan.resources.filter((r) => r.type === COLLECTION).map((r) => String(r.inputs.collection)),
    resticRepository: plan.stack,
    resticOnGpuVm: plan.resources.some((r) => r.name === resticInstallName(plan.stack, "gpu-vm")),
    maxBackupAgeHours,
  };
}

export interface BackupRef {
  volid: string;
  /** Seconds since the epoch. */
  time: number;
}

/** What must come back after the rebuild. */
export interface Inventory {
  models: Record<string, string>; // name → digest
  collections: Record<string, number>; // name → points
  unhealthy: string[];
}

export interface DrillDeps {
  workspace: StackWorkspace;
  proxmox: {
    latestBackup(guest: DrillGuest): Promise<BackupRef | undefined>;
    /** vzdump with protected=1: pruning never removes it. */
    protectedBackup(guest: DrillGuest): Promise<BackupRef>;
    /** Restores a backup into the guest's VMID if it is missing after the rebuild (its data volumes were kept otherwise). */
    restoreIfMissing(guest: DrillGuest, backup: BackupRef): Promise<"present" | "restored">;
    /**
     * Takes a compute guest's Proxmox protection off so that the destroy can delete it, once its data disk is seen to
     * be its holder's (refused otherwise: its data would go with it). "gone": already deleted (a resumed drill).
     */
    release(guest: DrillGuest): Promise<"released" | "gone">;
    /** Whether the guest exists with its Proxmox protection on (a rebuilt compute guest must be protected again). */
    isProtected(guest: DrillGuest): Promise<boolean>;
  };
  restic: { check(repository: string): Promise<boolean> };
  verify: { inventory(plan: DrillPlan): Promise<Inventory> };
  /** Where a drill that stopped after its destroy keeps what it needs to resume; none: no resuming. */
  journal?: DrillJournalStore;
  now(): number;
  log(line: string): void;
}

/**
 * What a drill stopped after its destroy needs to go on where it stopped: the steps done, the inventory taken before
 * (what must come back), the protected backups (what a restore uses) and the clock (RTO counts from the destroy).
 * Nothing secret: names, digests, counts, volume ids, times.
 */
export interface DrillJournal {
  stack: string;
  done: string[];
  before: Inventory;
  backups: Record<string, BackupRef>;
  destroyedAt: number;
  rpoSeconds: number;
}

export interface DrillJournalStore {
  load(stack: string): DrillJournal | undefined;
  save(journal: DrillJournal): void;
  clear(stack: string): void;
}

export interface DrillStepResult {
  step: string;
  /** "resumed": done by an earlier run of the drill that stopped after its destroy. */
  status: "ok" | "failed" | "skipped" | "resumed";
  seconds: number;
  detail: string;
}

export interface DrillReport {
  stack: string;
  ok: boolean;
  steps: DrillStepResult[];
  /** Wall-clock seconds from the destroy to a verified rebuild. */
  rtoSeconds?: number;
  /** Age (seconds) of the backups the rebuild could fall back on, at the moment of the destroy. */
  rpoSeconds?: number;
  /** What state things were left in when the drill stopped. */
  leftIn: string;
}

export const DRILL_STEPS = [
  { step: "preflight-backups", what: "every guest has an image backup younger than the schedule allows" },
  { step: "preflight-restic", what: "the stack's restic repository passes its check" },
  { step: "inventory", what: "record the models with their digests, the collections with their point counts, the services' health" },
  { step: "protected-backup", what: "a protected vzdump backup of every guest to the PBS storage (kept by pruning)" },
  {
    step: "destroy",
    what: "the compute's protection off (the GPU VM: in Proxmox and in the state), then pulumi destroy --exclude-protected: the data disk's holder, the data containers, the volumes and the storage stay; models and tenants stay in place, out of the state",
  },
  { step: "rebuild", what: "pulumi up" },
  { step: "restore", what: "restore from the protected backups any guest the rebuild did not bring back with its data" },
  { step: "verify", what: "the inventory again: every model with the same digest, every collection with at least its points, all services healthy" },
] as const;

/** The dry run: what the drill would do, step by step, for this stack; nothing is called. */
export function renderDrillSteps(p: DrillPlan): string {
  const lines = [`drill rebuild ${p.stack} (dry run: nothing is touched)`];
  const guests = p.guests.map((g) => `${g.kind} ${g.vmId} ${g.name} on ${g.node}${g.protectedInState ? " (protected)" : ""}`);
  const detail: Record<string, string[]> = {
    "preflight-backups": guests.map((g) => `${g}: latest backup younger than ${p.maxBackupAgeHours} h`),
    "preflight-restic": [`restic check of repository ${p.resticRepository} (ai-dualstack-restic-check-${p.resticRepository})`],
    inventory: [`models: ${p.models.join(", ") || "none"}`, `collections: ${p.collections.join(", ") || "none"}`],
    "protected-backup": guests.map((g) => `vzdump --protected 1 ${g.split(" ")[1]}`),
    destroy: [
      ...computeOf(p).map((g) => `${g.name} (${g.vmId}): protection off in Proxmox and in the state (its data disk stays on ${g.dataHolder})`),
      `${KEEP_DATA_ENV}=1 pulumi destroy --exclude-protected --stack ${p.stack}`,
    ],
    rebuild: [`pulumi up --stack ${p.stack}`],
    restore: guests.map((g) => `${g}: restore from its protected backup if missing`),
    verify: [
      `${p.models.length} model digest(s), ${p.collections.length} collection count(s), service health`,
      ...computeOf(p).map((g) => `${g.name} (${g.vmId}) protected again`),
    ],
  };
  DRILL_STEPS.forEach((s, i) => {
    lines.push(`${i + 1}. ${s.step}: ${s.what}`);
    for (const d of detail[s.step]) lines.push(`     ${d}`);
  });
  lines.push("then: a report with RTO (destroy → verified) and RPO (age of the newest backups at the destroy)");
  return `${lines.join("\n")}\n`;
}

class StepFailed extends Error {}

/** The guests the rebuild drill destroys and rebuilds (the GPU VM): those with a data disk holder. */
export function computeOf(p: DrillPlan): DrillGuest[] {
  return p.guests.filter((g) => g.dataHolder !== undefined);
}

/** Compares the inventory after the rebuild with the one before; the problems, empty when everything came back. */
export function compareInventory(before: Inventory, after: Inventory): string[] {
  const problems: string[] = [];
  for (const [m, digest] of Object.entries(before.models)) {
    if (!(m in after.models)) problems.push(`model ${m} is missing`);
    else if (after.models[m] !== digest) problems.push(`model ${m} has digest ${after.models[m].slice(0, 12)}, expected ${digest.slice(0, 12)}`);
  }
  for (const [c, points] of Object.entries(before.collections)) {
    if (!(c in after.collections)) problems.push(`collection ${c} is missing`);
    else if (after.collections[c] < points) problems.push(`collection ${c} has ${after.collections[c]} point(s), had ${points}`);
  }
  for (const s of after.unhealthy) problems.push(`service ${s} is not healthy`);
  return problems;
}

export async function runDrill(p: DrillPlan, d: DrillDeps): Promise<DrillReport> {
  const steps: DrillStepResult[] = [];
  let leftIn = "nothing changed";
  let before: Inventory | undefined;
  let destroyedAt: number | undefined;
  let rpo: number | undefined;
  const backups = new Map<number, BackupRef>();
  // A drill that stopped after its destroy goes on where it stopped, with what it recorded before; one that stopped
  // earlier changed nothing, and starts over.
  const resumed = d.journal?.load(p.stack);
  const done = new Set(resumed?.done ?? []);
  if (resumed) {
    before = resumed.before;
    destroyedAt = resumed.destroyedAt;
    rpo = resumed.rpoSeconds;
    for (const [vmId, b] of Object.entries(resumed.backups)) backups.set(Number(vmId), b);
    leftIn = `stack ${p.stack} being rebuilt by a resumed drill; backups kept`;
    d.log(`resuming the drill of ${p.stack} stopped after its destroy (${[...done].join(", ")} done)`);
  }
  // Saved only once the destroy has begun: before it, nothing was changed and a new run starts over.
  const save = () => {
    if (destroyedAt === undefined || !d.journal) return;
    d.journal.save({
      stack: p.stack,
      done: [...done],
      before: before!,
      backups: Object.fromEntries([...backups].map(([k, v]) => [String(k), v])),
      destroyedAt,
      rpoSeconds: rpo ?? 0,
    });
  };
  const record = (step: string) => {
    done.add(step);
    save();
  };

  const bodies: Record<(typeof DRILL_STEPS)[number]["step"], () => Promise<string>> = {
    "preflight-backups": async () => {
      const stale: string[] = [];
      for (const g of p.guests) {
        const b = await d.proxmox.latestBackup(g);
        const age = b ? d.now() - b.time : Infinity;
        if (age > p.maxBackupAgeHours * 3600) stale.push(`${g.name} (${g.vmId}): ${b ? `latest backup ${(age / 3600).toFixed(1)} h old` : "no backup"}`);
      }
      if (stale.length) throw new StepFailed(`backups too old: ${stale.join("; ")}`);
      return `${p.guests.length} guest(s) backed up within ${p.maxBackupAgeHours} h`;
    },
    "preflight-restic": async () => {
      if (!(await d.restic.check(p.resticRepository)))
        throw new StepFailed(`restic check of ${p.resticRepository} failed: do not destroy anything until it passes`);
      return `repository ${p.resticRepository} verified`;
    },
    inventory: async () => {
      before = await d.verify.inventory(p);
      if (before.unhealthy.length) throw new StepFailed(`services unhealthy before the drill: ${before.unhealthy.join(", ")}`);
      return `${Object.keys(before.models).length} model(s), ${Object.keys(before.collections).length} collection(s)`;
    },
    "protected-backup": async () => {
      for (const g of p.guests) {
        d.log(`  backing up ${g.name} (${g.vmId})`);
        backups.set(g.vmId, await d.proxmox.protectedBackup(g));
      }
      leftIn = "protected backups taken; nothing destroyed";
      return `${backups.size} protected backup(s)`;
    },
    destroy: async () => {
      destroyedAt = d.now();
      rpo = Math.max(0, ...[...backups.values()].map((b) => destroyedAt! - b.time));
      // From here on the stack is being changed: a run that stops resumes (at the destroy, which is safe again).
      save();
      const compute = computeOf(p);
      const names = compute.map((g) => `${g.name} (${g.vmId})`).join(", ");
      if (compute.length) {
        leftIn = `stack ${p.stack} unchanged but for the protection of ${names}, being taken off; run pulumi up --stack ${p.stack} to protect it again`;
        for (const g of compute) {
          const r = await d.proxmox.release(g);
          d.log(`  ${g.name} (${g.vmId}): ${r === "gone" ? "already deleted" : `protection off; its data disk stays on ${g.dataHolder}`}`);
        }
        await d.workspace.unprotect(
          p.stack,
          compute.map((g) => g.urn),
        );
      }
      leftIn = `stack ${p.stack} being destroyed (${compute.length ? `${names} with it; ` : ""}protected resources and backups kept); run pulumi up --stack ${p.stack} to rebuild`;
      await d.workspace.destroyExcludingProtected(p.stack, d.log, { keepData: true });
      leftIn = `stack ${p.stack} destroyed${compute.length ? `, ${names} included,` : ""} except protected resources; backups kept; run pulumi up --stack ${p.stack} to rebuild`;
      return compute.length ? `destroyed with ${names}; protected resources kept` : "destroyed, protected resources kept";
    },
    rebuild: async () => {
      await d.workspace.up(p.stack, d.log);
      leftIn = `stack ${p.stack} rebuilt, not yet verified; backups kept`;
      return "rebuilt";
    },
    restore: async () => {
      const restored: string[] = [];
      for (const g of p.guests) if ((await d.proxmox.restoreIfMissing(g, backups.get(g.vmId)!)) === "restored") restored.push(g.name);
      return restored.length ? `restored: ${restored.join(", ")}` : "every guest came back with its data";
    },
    verify: async () => {
      const after = await d.verify.inventory(p);
      const problems = compareInventory(before!, after);
      for (const g of computeOf(p)) if (!(await d.proxmox.isProtected(g))) problems.push(`${g.name} (${g.vmId}) came back without its protection`);
      if (problems.length) throw new StepFailed(problems.join("; "));
      leftIn = `stack ${p.stack} rebuilt and verified; protected backups kept`;
      return "everything came back";
    },
  };

  for (const { step } of DRILL_STEPS) {
    if (done.has(step)) {
      steps.push({ step, status: "resumed", seconds: 0, detail: "done by the earlier run" });
      continue;
    }
    const start = d.now();
    d.log(`${step}…`);
    try {
      const detail = await bodies[step]();
      steps.push({ step, status: "ok", seconds: d.now() - start, detail });
      d.log(`${step}: ok (${detail})`);
      record(step);
    } catch (err) {
      const detail = (err as Error).message;
      steps.push({ step, status: "failed", seconds: d.now() - start, detail });
      d.log(`${step}: FAILED: ${detail}`);
      for (const rest of DRILL_STEPS.slice(DRILL_STEPS.findIndex((s) => s.step === step) + 1))
        steps.push({ step: rest.step, status: "skipped", seconds: 0, detail: "" });
      if (destroyedAt !== undefined && d.journal) leftIn = `${leftIn}; run the drill again to resume at ${step}`;
      return { stack: p.stack, ok: false, steps, rpoSeconds: rpo, leftIn };
    }
  }
  d.journal?.clear(p.stack);
  return { stack: p.stack, ok: true, steps, rtoSeconds: d.now() - destroyedAt!, rpoSeconds: rpo, leftIn };
}

export function renderDrillReport(r: DrillReport): string {
  const lines = r.steps.map((s) => `  ${s.status.padEnd(7)} ${s.step.padEnd(18)} ${s.seconds.toFixed(0).padStart(6)} s  ${s.detail}`);
  const measured = [
    r.rtoSeconds !== undefined ? `RTO ${(r.rtoSeconds / 60).toFixed(1)} min` : undefined,
    r.rpoSeconds !== undefined ? `RPO ${(r.rpoSeconds / 60).toFixed(1)} min` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  return `drill rebuild ${r.stack}: ${r.ok ? "PASSED" : "FAILED"}${measured ? ` (${measured})` : ""}\n${lines.join("\n")}\nleft in: ${r.leftIn}\n`;
}
