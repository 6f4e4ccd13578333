// Drift and the disaster-recovery drill against a scripted workspace and scripted Proxmox/restic/verification
// dependencies: every step's order, the report (RTO/RPO), a failure stopping the drill with the state it left, and
// the dry run for the shipped stacks (through the offline engine).
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { main, type Deps } from "../../ops/cli";
import { compareInventory, drillPlan, renderDrillReport, runDrill, type DrillDeps, type DrillPlan, type Inventory } from "../../ops/drill";
import { fileJournal } from "../../ops/drill-journal";
import { changesFromEvents, withoutProtection, type ResourceChange, type StackWorkspace } from "../../ops/workspace";
import { evaluateStack, type PlanResult } from "../../ops/engine";
import { memoryJournal } from "../helpers/drill-journal";

function scriptedWorkspace(drift: ResourceChange[] = [], calls: string[] = []): StackWorkspace {
  return {
    refreshPreview: async (stack) => (calls.push(`refresh-preview ${stack}`), drift),
    destroyExcludingProtected: async (stack, log, options) => (
      calls.push(`destroy --exclude-protected ${stack}${options?.keepData ? " (data kept in place)" : ""}`),
      log("  delete docker:index/container:Container public-services-chatbot")
    ),
    unprotect: async (stack, urns) => (calls.push(`unprotect ${stack} ${urns.map((u) => u.split("::").at(-1)).join(",")}`), urns),
    up: async (stack) => void calls.push(`up ${stack}`),
    outputs: async () => ({}),
    secretOutput: async () => undefined,
  };
}

async function cli(argv: string[], deps: Deps, answer?: string) {
  let out = "";
  let err = "";
  const asked: string[] = [];
  const ask = answer === undefined ? undefined : async (q: string) => (asked.push(q), answer);
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), ask }, { drillJournal: memoryJournal(), ...deps });
  return { code, out, err, asked };
}

describe("drift", () => {
  it("reports the drifted resources and their properties; exit 3, or 0 without drift; --json", async () => {
    const drift = [
      {
        urn: "urn:pulumi:public::ai-dualstack::pulumi-nodejs:dynamic:Resource::public-tenants-acme-redis",
        type: "pulumi-nodejs:dynamic:Resource",
        op: "update",
        properties: ["observed"],
      },
    ];
    const calls: string[] = [];
    const r = await cli(["drift", "public"], { workspace: scriptedWorkspace(drift, calls) });
    expect(r).toMatchObject({ code: 3 });
    expect(r.out).toBe("stack public: 1 resource(s) drifted\n  update   public-tenants-acme-redis (pulumi-nodejs:dynamic:Resource): observed\n");
    expect(calls).toEqual(["refresh-preview public"]);
    const clean = await cli(["drift", "private", "--json"], { workspace: scriptedWorkspace() });
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.out)).toEqual({ stack: "private", drifted: false, resources: [] });
    expect((await cli(["drift", "no such"], { workspace: scriptedWorkspace() })).code).toBe(2);
  });

  it('a refresh\'s outcome is in its outputs events (the real engine announces every resource as "refresh" first)', () => {
    const pre = (name: string) =>
      ({
        sequence: 1,
        timestamp: 0,
        resourcePreEvent: { metadata: { op: "refresh", urn: `urn:pulumi:s::p::t::${name}`, type: "t", provider: "" } },
      }) as unknown as EngineEvent;
    const outcome = (op: string, name: string, old?: object, now?: object) =>
      ({
        sequence: 2,
        timestamp: 0,
        resOutputsEvent: {
          metadata: { op, urn: `urn:pulumi:s::p::t::${name}`, type: "t", provider: "", old: old && { outputs: old }, new: now && { outputs: now } },
        },
      }) as unknown as EngineEvent;
    expect(
      changesFromEvents([
        pre("a"),
        pre("b"),
        pre("c"),
        outcome("same", "a", { x: 1 }, { x: 1 }),
        outcome("update", "b", { observed: { v: 1 }, name: "n" }, { observed: { v: 2 }, name: "n" }),
        outcome("delete", "c"),
      ]).map((c) => `${c.op} ${c.urn.split("::").at(-1)} ${c.properties.join(",")}`),
    ).toEqual(["update b observed", "delete c "]);
  });

  it("takes the protect flag off the named resources of an exported state only, and says which had it", () => {
    const state = {
      version: 3,
      deployment: {
        manifest: { time: "t" },
        resources: [
          { urn: "urn:a", protect: true, type: "t" },
          { urn: "urn:b", protect: true, type: "t" },
          { urn: "urn:c", type: "t" },
        ],
      },
    };
    const r = withoutProtection(state, ["urn:a", "urn:c", "urn:missing"]);
    expect(r.unprotected).toEqual(["urn:a"]);
    expect(r.state.deployment.resources.map((x) => `${x.urn}:${x.protect ?? "-"}`)).toEqual(["urn:a:false", "urn:b:true", "urn:c:-"]);
    expect(r.state.deployment.manifest).toEqual({ time: "t" });
    expect(state.deployment.resources[0].protect).toBe(true);
  });

  it("reads changes from the engine's events: steps other than same, providers and the stack left out", () => {
    const ev = (op: string, type: string, name: string, diffs?: string[]) =>
      ({
        sequence: 1,
        timestamp: 0,
        resourcePreEvent: { metadata: { op, urn: `urn:pulumi:s::p::${type}::${name}`, type, provider: "", diffs } },
      }) as unknown as EngineEvent;
    expect(
      changesFromEvents([
        ev("same", "proxmoxve:index/vmLegacy:VmLegacy", "vm"),
        ev("update", "proxmoxve:index/vmLegacy:VmLegacy", "vm2", ["memory", "cpu"]),
        ev("delete", "docker:index/container:Container", "gone"),
        ev("update", "pulumi:providers:proxmoxve", "default"),
        ev("same", "pulumi:pulumi:Stack", "s"),
      ]),
    ).toEqual([
      {
        urn: "urn:pulumi:s::p::proxmoxve:index/vmLegacy:VmLegacy::vm2",
        type: "proxmoxve:index/vmLegacy:VmLegacy",
        op: "update",
        properties: ["cpu", "memory"],
      },
      { urn: "urn:pulumi:s::p::docker:index/container:Container::gone", type: "docker:index/container:Container", op: "delete", properties: [] },
    ]);
  });
});

describe("drill", () => {
  let pub: PlanResult;
  let plan: DrillPlan;
  beforeAll(async () => {
    pub = await evaluateStack("public");
    plan = drillPlan(pub);
  });

  const NOW = 1_800_000_000;
  const inventory: Inventory = { models: { "mistral:7b": "sha256:aaaa" }, collections: { tenant_acme: 10, tenant_globex: 0 }, unhealthy: [] };
  function deps(over: Partial<DrillDeps> = {}, calls: string[] = []): DrillDeps {
    let clock = NOW;
    return {
      workspace: scriptedWorkspace([], calls),
      proxmox: {
        latestBackup: async (g) => ({ volid: `pbs:backup/${g.vmId}/old`, time: NOW - 3600 }),
        protectedBackup: async (g) => (calls.push(`protected-backup ${g.vmId}`), { volid: `pbs:backup/${g.vmId}/drill`, time: clock }),
        restoreIfMissing: async (g) => (calls.push(`restore-if-missing ${g.vmId}`), "present"),
        release: async (g) => (calls.push(`release ${g.vmId}`), "released"),
        isProtected: async (g) => (calls.push(`is-protected ${g.vmId}`), true),
      },
      restic: { check: async (repo) => (calls.push(`restic-check ${repo}`), true) },
      verify: { inventory: async () => inventory },
      now: () => (clock += 60),
      log: () => {},
      ...over,
    };
  }

  it("plans from the stack: its guests (the data holder too), models and tenants' collections", () => {
    expect(plan.guests.map((g) => `${g.kind}:${g.vmId}`).sort()).toEqual(["ct:310", "ct:311", "vm:300", "vm:301"]);
    // The compute it destroys and rebuilds: the GPU VM, over its data disk's holder; nothing else.
    expect(plan.guests.filter((g) => g.dataHolder !== undefined).map((g) => `${g.name} over ${g.dataHolder}`)).toEqual(["public-gpu-vm over 301"]);
    expect(plan.guests.find((g) => g.vmId === 300)!.urn).toBe(
      "urn:pulumi:public::ai-dualstack::dualstack:environment:AiEnvironment$dualstack:guest:GpuVm$proxmoxve:index/vmLegacy:VmLegacy::public-gpu-vm",
    );
    expect(plan.models).toEqual(["mistral:7b"]);
    expect(plan.collections).toEqual(["tenant_acme", "tenant_globex"]);
    expect(plan.resticOnGpuVm).toBe(false);
  });

  it("knows from the stack whether its GPU VM holds restic (file-level backups on: the credentials are set)", async () => {
    const withRestic = drillPlan(await evaluateStack("public", { secrets: { resticPassword: "pw", resticPrivateKey: "key" } }));
    expect(withRestic.resticOnGpuVm).toBe(true);
  }, 60_000);

  it("runs every step in order and reports RTO and RPO", async () => {
    const calls: string[] = [];
    const r = await runDrill(plan, deps({}, calls));
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      "preflight-backups:ok",
      "preflight-restic:ok",
      "inventory:ok",
      "protected-backup:ok",
      "destroy:ok",
      "rebuild:ok",
      "restore:ok",
      "verify:ok",
    ]);
    const ids = plan.guests.map((g) => g.vmId);
    expect(calls).toEqual([
      "restic-check public",
      ...ids.map((id) => `protected-backup ${id}`),
      "release 300",
      "unprotect public public-gpu-vm",
      "destroy --exclude-protected public (data kept in place)",
      "up public",
      ...ids.map((id) => `restore-if-missing ${id}`),
      "is-protected 300",
    ]);
    expect(r.steps.find((s) => s.step === "destroy")!.detail).toBe("destroyed with public-gpu-vm (300); protected resources kept");
    expect(r.rtoSeconds).toBeGreaterThan(0);
    expect(r.rpoSeconds).toBeGreaterThan(0);
    expect(r.leftIn).toBe("stack public rebuilt and verified; protected backups kept");
  });

  it("stops before touching anything when a backup is stale or the restic check fails", async () => {
    const calls: string[] = [];
    const stale = await runDrill(
      plan,
      deps(
        { proxmox: { ...deps().proxmox, latestBackup: async (g) => (g.vmId === 311 ? { volid: "x", time: NOW - 48 * 3600 } : { volid: "y", time: NOW }) } },
        calls,
      ),
    );
    expect(stale.ok).toBe(false);
    expect(stale.steps[0]).toMatchObject({ step: "preflight-backups", status: "failed" });
    expect(stale.steps[0].detail).toMatch(/^backups too old: public-redis-ct \(311\): latest backup 48\.\d h old$/);
    expect(stale.steps.slice(1).every((s) => s.status === "skipped")).toBe(true);
    expect(stale.leftIn).toBe("nothing changed");
    expect(calls).toEqual([]);
    const failedCheck = await runDrill(plan, deps({ restic: { check: async () => false } }));
    expect(failedCheck.steps[1]).toMatchObject({ status: "failed", detail: "restic check of public failed: do not destroy anything until it passes" });
  });

  it("a verification failure says what did not come back and what state things are in; backups are never deleted", async () => {
    let n = 0;
    const r = await runDrill(
      plan,
      deps({
        verify: { inventory: async () => (n++ === 0 ? inventory : { ...inventory, models: { "mistral:7b": "sha256:bbbb" }, collections: { tenant_acme: 3 } }) },
      }),
    );
    expect(r.ok).toBe(false);
    expect(r.steps.at(-1)).toMatchObject({ step: "verify", status: "failed" });
    expect(r.steps.at(-1)!.detail).toBe(
      "model mistral:7b has digest sha256:bbbb, expected sha256:aaaa; collection tenant_acme has 3 point(s), had 10; collection tenant_globex is missing",
    );
    expect(r.leftIn).toBe("stack public rebuilt, not yet verified; backups kept");
  });

  it("a failing rebuild leaves the stack destroyed with the way back", async () => {
    const r = await runDrill(
      plan,
      deps({
        workspace: {
          ...scriptedWorkspace(),
          up: async () => {
            throw new Error("proxmox: 500 Internal Server Error");
          },
        },
      }),
    );
    expect(r.steps.find((s) => s.step === "rebuild")).toMatchObject({ status: "failed", detail: "proxmox: 500 Internal Server Error" });
    expect(r.leftIn).toBe(
      "stack public destroyed, public-gpu-vm (300) included, except protected resources; backups kept; run pulumi up --stack public to rebuild",
    );
  });

  it("a GPU VM whose data disk is not its holder's is left protected, and nothing is destroyed", async () => {
    const calls: string[] = [];
    const r = await runDrill(
      plan,
      deps(
        {
          proxmox: {
            ...deps({}, calls).proxmox,
            release: async (g) => {
              throw new Error(`${g.name} (${g.vmId}) has no disk of its holder ${g.dataHolder} attached: its data would go with it, so it is left protected`);
            },
          },
        },
        calls,
      ),
    );
    expect(r.steps.find((s) => s.step === "destroy")).toMatchObject({
      status: "failed",
      detail: expect.stringContaining("has no disk of its holder 301 attached"),
    });
    expect(calls.filter((c) => /^(unprotect|destroy|up) /.test(c))).toEqual([]);
    expect(r.leftIn).toMatch(/^stack public unchanged but for the protection of public-gpu-vm \(300\)/);
  });

  it("a GPU VM rebuilt without its protection fails the verification", async () => {
    const r = await runDrill(plan, deps({ proxmox: { ...deps().proxmox, isProtected: async (g) => g.vmId !== 300 } }));
    expect(r.steps.at(-1)).toMatchObject({ step: "verify", status: "failed", detail: "public-gpu-vm (300) came back without its protection" });
  });

  it("a drill that stops after its destroy resumes where it stopped, with the inventory, backups and clock of the first run", async () => {
    const journal = memoryJournal();
    const calls: string[] = [];
    let upFails = true;
    const workspace = {
      ...scriptedWorkspace([], calls),
      up: async (stack: string) => {
        calls.push(`up ${stack}`);
        if (upFails) throw new Error("proxmox: 500 Internal Server Error");
      },
    };
    let inventories = 0;
    const verify = { inventory: async () => (inventories++ === 0 ? inventory : { ...inventory, collections: { tenant_acme: 10, tenant_globex: 0 } }) };
    let clock = NOW;
    const now = () => (clock += 60);
    const first = await runDrill(plan, deps({ workspace, journal, verify, now }, calls));
    expect(first.ok).toBe(false);
    expect(first.leftIn).toBe(
      "stack public destroyed, public-gpu-vm (300) included, except protected resources; backups kept; run pulumi up --stack public to rebuild; run the drill again to resume at rebuild",
    );
    const stopped = journal.current.get("public")!;
    expect(stopped.done).toEqual(["preflight-backups", "preflight-restic", "inventory", "protected-backup", "destroy"]);
    expect(stopped.before).toEqual(inventory);
    expect(Object.keys(stopped.backups).sort()).toEqual(plan.guests.map((g) => String(g.vmId)).sort());

    upFails = false;
    calls.length = 0;
    const second = await runDrill(plan, deps({ workspace, journal, verify, now }, calls));
    expect(second.ok, renderDrillReport(second)).toBe(true);
    expect(second.steps.map((x) => `${x.step}:${x.status}`)).toEqual([
      "preflight-backups:resumed",
      "preflight-restic:resumed",
      "inventory:resumed",
      "protected-backup:resumed",
      "destroy:resumed",
      "rebuild:ok",
      "restore:ok",
      "verify:ok",
    ]);
    // Nothing backed up or destroyed again; the restore uses the first run's backups; RTO counts from its destroy.
    expect(calls).toEqual(["up public", ...plan.guests.map((g) => `restore-if-missing ${g.vmId}`), "is-protected 300"]);
    expect(second.rtoSeconds).toBe(clock - stopped.destroyedAt);
    expect(second.rpoSeconds).toBe(stopped.rpoSeconds);
    expect(journal.current.has("public")).toBe(false);
  });

  it("a drill that stops before its destroy changed nothing and keeps no record: the next run starts over", async () => {
    const journal = memoryJournal();
    const r = await runDrill(plan, deps({ journal, restic: { check: async () => false } }));
    expect(r.ok).toBe(false);
    expect(r.leftIn).toBe("nothing changed");
    expect(journal.saved).toEqual([]);
  });

  it("the record on disk: written for its owner only; one that is not a drill's record stops the drill naming the file; --restart forgets it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drill-state-"));
    const store = fileJournal(dir);
    const j = { stack: "public", done: ["destroy"], before: inventory, backups: {}, destroyedAt: NOW, rpoSeconds: 60 };
    store.save(j);
    expect(statSync(store.file("public")).mode & 0o777).toBe(0o600);
    expect(store.load("public")).toEqual(j);
    writeFileSync(store.file("public"), "{ not json");
    const d = deps();
    const drill = { proxmox: d.proxmox, restic: d.restic, verify: d.verify, now: d.now };
    const broken = await cli(["drill", "rebuild", "public", "--yes"], { workspace: d.workspace, drill, drillJournal: store });
    expect(broken.code).toBe(2);
    expect(broken.err).toContain(`error: ${store.file("public")}: not JSON (`);
    expect(broken.err).toContain("; fix or remove it (--restart)\n");
    const restarted = await cli(["drill", "rebuild", "public", "--yes", "--restart"], { workspace: d.workspace, drill, drillJournal: store });
    expect(restarted.code, restarted.err).toBe(0);
    expect(existsSync(store.file("public"))).toBe(false);
  });

  it("compares inventories: more points is fine, unhealthy services are not", () => {
    expect(compareInventory(inventory, { ...inventory, collections: { tenant_acme: 11, tenant_globex: 0 } })).toEqual([]);
    expect(compareInventory(inventory, { ...inventory, unhealthy: ["qdrant"] })).toEqual(["service qdrant is not healthy"]);
  });

  it("--dry-run prints the steps for the shipped stack and touches nothing", async () => {
    const calls: string[] = [];
    const r = await cli(["drill", "rebuild", "public", "--dry-run"], { workspace: scriptedWorkspace([], calls) });
    expect(r.code).toBe(0);
    expect(r.out).toContain("drill rebuild public (dry run: nothing is touched)\n1. preflight-backups:");
    expect(r.out).toContain("     vzdump --protected 1 300\n");
    expect(r.out).toContain(
      "     public-gpu-vm (300): protection off in Proxmox and in the state (its data disk stays on 301)\n     AI_DUALSTACK_DESTROY_KEEPS_DATA=1 pulumi destroy --exclude-protected --stack public\n",
    );
    expect(r.out).toContain("     public-gpu-vm (300) protected again\n");
    expect(r.out).toContain("     collections: tenant_acme, tenant_globex\n");
    expect(calls).toEqual([]);
  });

  it("the live drill with scripted dependencies prints the report; on a stack never deployed it says so", async () => {
    const d = deps();
    const r = await cli(["drill", "rebuild", "public", "--yes"], {
      workspace: d.workspace,
      drill: { proxmox: d.proxmox, restic: d.restic, verify: d.verify, now: d.now },
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^drill rebuild public: PASSED \(RTO \d+\.\d min, RPO \d+\.\d min\)\n/);
    expect(r.err).toContain("destroy…\n");
    const none = await cli(["drill", "rebuild", "public", "--yes"], { workspace: scriptedWorkspace() });
    expect(none.code).toBe(2);
    expect(none.err).toContain("stack public: no ollamaUrl output; run pulumi up --stack public first");
  });

  it("asks for the stack's name at a terminal before touching anything; without one it needs --yes", async () => {
    const d = deps();
    const calls: string[] = [];
    const drill = { proxmox: d.proxmox, restic: d.restic, verify: d.verify, now: d.now };
    const piped = await cli(["drill", "rebuild", "public"], { workspace: scriptedWorkspace([], calls), drill });
    expect(piped.code).toBe(2);
    expect(piped.err).toBe(
      "error: drill rebuild public destroys the stack's unprotected resources and rebuilds them: give --yes to run it without a terminal (nothing was touched)\n",
    );
    const wrong = await cli(["drill", "rebuild", "public"], { workspace: scriptedWorkspace([], calls), drill }, "private");
    expect(wrong.code).toBe(2);
    expect(wrong.asked).toEqual(["This destroys and rebuilds stack public. Type its name to go on: "]);
    expect(wrong.err).toContain("1. preflight-backups:");
    expect(wrong.err).toContain('error: drill rebuild: "private" is not public; nothing was touched\n');
    expect(calls).toEqual([]);
    const confirmed = await cli(["drill", "rebuild", "public"], { workspace: d.workspace, drill }, "public\n");
    expect(confirmed.code).toBe(0);
    expect(confirmed.out).toMatch(/^drill rebuild public: PASSED/);
  });
});

describe("bench", () => {
  it("measures each deployed model through the real Ollama client and puts it next to the planner's ceiling", async () => {
    const { startFakeOllama, LIBRARY } = await import("../helpers/fake-ollama");
    const ollama = await startFakeOllama({ decodeTokensPerSecond: 40 });
    try {
      ollama.models.set("mistral:7b", { ...LIBRARY["mistral:7b"], digest: "d" });
      const r = await cli(["bench", "public", "--url", ollama.url, "--tokens", "64", "--json"], { workspace: scriptedWorkspace() });
      expect(r.code, r.err).toBe(0);
      const { rows } = JSON.parse(r.out);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ model: "mistral:7b", tokens: 192 });
      expect(rows[0].tokensPerSecond).toBeCloseTo(40, 5);
      expect(rows[0].ceilingTokensPerSecond).toBeGreaterThan(40);
      expect(rows[0].ratio).toBeCloseTo(40 / rows[0].ceilingTokensPerSecond, 5);
      // Warm-up first, then three measured runs with the fixed prompt.
      expect(ollama.log.filter((l) => l.startsWith("POST /api/generate"))).toHaveLength(4);
      const text = await cli(["bench", "public", "--url", ollama.url], { workspace: scriptedWorkspace() });
      expect(text.out).toMatch(/^model\s+measured tok\/s\s+ceiling tok\/s\s+of ceiling\nmistral:7b\s+40\.0\s+\d+\s+\d+%\n$/);
    } finally {
      await ollama.close();
    }
    expect((await cli(["bench", "public", "--url", "ftp://x"], { workspace: scriptedWorkspace() })).code).toBe(2);
  });
});
