// `dualstack drill restore` with its live adapter end to end, against the Proxmox API stand-in over HTTPS (restore,
// tasks, guest configuration, start, the guest agent's exec, pools, delete, as the API documents them, and a restore
// task that fails), with the Ollama and Qdrant stand-ins as the running environment whose inventory a restored copy
// must match. The stand-in refuses what Proxmox refuses: a start whose passthrough device the running GPU VM holds, a
// delete of a protected or running guest, a pool that does not exist.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main, type Deps } from "../../ops/cli";
import { drillPlan, type DrillGuest, type DrillPlan } from "../../ops/drill";
import { restoreChecks } from "../../ops/drill-restore";
import { resticScriptPath } from "../../lib/backup/restic";
import { parseSha256sum } from "../../ops/drill-live";
import { evaluateStack } from "../../ops/engine";
import type { StackWorkspace } from "../../ops/workspace";
import { gpuVmModelsDir, manifestPath } from "../../lib/ollama-store";
import { startFakeProxmox, type FakeGuest, type FakeProxmox } from "../helpers/fake-proxmox";
import { nightlyBackups, startDrillTestbed, type DrillTestbed } from "../helpers/drill-testbed";
import { makeTestCa, type TestCa } from "../helpers/pki";

let dir: string;
let plan: DrillPlan;
let ca: TestCa;
let proxmox: FakeProxmox;
let bed: DrillTestbed;
const MANIFEST = JSON.stringify({ schemaVersion: 2, layers: [{ digest: "sha256:aaaa" }] });
const sha256 = (t: string) => createHash("sha256").update(t).digest("hex");

beforeAll(async () => {
  plan = drillPlan(await evaluateStack("public"));
  dir = mkdtempSync(join(tmpdir(), "drill-restore-"));
  ca = makeTestCa("test Proxmox CA");
  writeFileSync(join(dir, "pve-ca.pem"), ca.certPem);
}, 60_000);
afterAll(() => {
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const gpuVm = () => plan.guests.find((g) => g.agent)!;

/** The public environment's guests as Proxmox holds them: running, protected, on the zone's bridge; the GPU VM with its card and agent. */
function guestsOf(p: DrillPlan, manifest = MANIFEST): Record<number, FakeGuest> {
  return Object.fromEntries(
    p.guests.map((g, i): [number, FakeGuest] => [
      g.vmId,
      {
        node: g.node,
        kind: g.kind === "vm" ? "qemu" : "lxc",
        status: g.started ? "running" : "stopped",
        config: {
          protection: "1",
          onboot: g.started ? "1" : "0",
          ...(g.name.endsWith("-gpu-data") ? {} : { net0: `virtio=BC:24:11:00:01:0${i},bridge=vnpub,firewall=1` }),
          ...(g.agent ? { hostpci0: "mapping=rtx3060,pcie=1", agent: "1,fstrim_cloned_disks=1" } : {}),
        },
        files: g.agent ? { [`${gpuVmModelsDir("public")}/${manifestPath("mistral:7b")}`]: manifest } : {},
      },
    ]),
  );
}

beforeEach(async () => {
  proxmox = await startFakeProxmox(ca, guestsOf(plan));
  proxmox.pools.set("ai-drill", new Set());
  nightlyBackups(proxmox, plan);
  bed = await startDrillTestbed(dir, proxmox, sha256(MANIFEST));
});
afterEach(async () => {
  await proxmox.close();
  await bed.stop();
});

/** The deployed stack's outputs, as the drill reads them; nothing else of the engine is used. */
function deployed(calls: string[]): StackWorkspace {
  const refuse = async (what: string) => {
    calls.push(what);
    throw new Error(`the restore drill called ${what}`);
  };
  return {
    refreshPreview: () => refuse("refresh"),
    destroyExcludingProtected: () => refuse("destroy"),
    unprotect: () => refuse("unprotect"),
    up: () => refuse("up"),
    ...bed.outputs,
  };
}

async function cli(extra: string[] = [], deps: Deps = {}) {
  let out = "";
  let err = "";
  const calls: string[] = [];
  const argv = ["drill", "restore", "public", "--config", bed.configFile, "--proxmox-ca", join(dir, "pve-ca.pem"), "--agent-wait", "5", ...extra];
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) }, { workspace: deployed(calls), ...deps });
  return { code, out, err, calls };
}

const writes = () => proxmox.log.filter((l) => !l.startsWith("GET"));

describe("dualstack drill restore", () => {
  it("restores every guest into a scratch VMID in the drill pool, cut off, boots it, checks the models, deletes it; RTO and RPO", async () => {
    const originals = structuredClone([...proxmox.guests]);
    const backups = proxmox.backups.length;
    const r = await cli(["--json"]);
    expect(r.code, r.err + r.out).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(true);
    expect(report.guests.map((g: { guest: string; scratchId: number; status: string }) => `${g.guest} ${g.scratchId} ${g.status}`)).toEqual(
      plan.guests.map((g, i) => `${g.name} ${9900 + i} ok`),
    );
    const byName = (n: string) => report.guests.find((g: { guest: string }) => g.guest === n);
    expect(byName(gpuVm().name).checked).toBe("1 model manifest(s) by sha256");
    expect(byName("public-gpu-data").checked).toBe("restored (the data disk's holder is never started)");
    expect(byName("public-postgres-ct").checked).toBe("booted (a container has no guest agent: contents not checked)");
    for (const g of report.guests) {
      expect(g.rpoSeconds).toBeGreaterThanOrEqual(7200);
      expect(g.rpoSeconds).toBeLessThan(7300);
      expect(g.rtoSeconds).toBeGreaterThanOrEqual(0);
    }
    expect(report.rpoSeconds).toBeGreaterThanOrEqual(7200);
    expect(report.leftIn).toBe("the environment was not touched; every scratch guest removed; backups kept");
    // Restored with new MACs into the drill pool; then NICs and the card taken away before the start (the stand-in
    // refuses to start a second guest on the card the running GPU VM holds).
    const restores = proxmox.forms.filter((f) => /^POST \/api2\/json\/nodes\/pve1\/(qemu|lxc)$/.test(f.call));
    expect(restores.map((f) => `${f.params.vmid} ${f.params.archive ?? f.params.ostemplate} ${f.params.pool} ${f.params.unique} ${f.params.storage}`)).toEqual(
      plan.guests.map((g, i) => `${9900 + i} pbs:backup/${g.kind}/${g.vmId}/nightly ai-drill 1 tank-public`),
    );
    // Started only once cut off: no NIC, no card, no protection, no start at boot; the holder never started.
    expect(proxmox.starts.map((s) => s.vmid)).toEqual([9901, 9902, 9903]);
    for (const s of proxmox.starts) {
      expect(
        Object.keys(s.config).filter((k) => /^(net|hostpci|usb)\d+$/.test(k)),
        String(s.vmid),
      ).toEqual([]);
      expect(s.config).toMatchObject({ protection: "0", onboot: "0" });
    }
    expect(writes()).toContain("PUT /api2/json/nodes/pve1/qemu/9903/config");
    expect(writes()).toContain("POST /api2/json/nodes/pve1/qemu/9903/agent/exec");
    expect(writes()).toContain("DELETE /api2/json/nodes/pve1/qemu/9903?purge=1&destroy-unreferenced-disks=1");
    // Every scratch guest is gone, the pool is empty; the originals and the backups are as they were.
    expect([...proxmox.guests]).toEqual(originals);
    expect(proxmox.pools.get("ai-drill")!.size).toBe(0);
    expect(proxmox.backups).toHaveLength(backups);
    expect(writes().filter((l) => /\/(qemu|lxc)\/(300|301|310|311)\b/.test(l))).toEqual([]);
    expect(r.calls).toEqual([]);
    expect(r.out + r.err).not.toContain(proxmox.token.split("=")[1]);
  }, 60_000);

  it("prints the report: each guest with its scratch VMID, backup, RTO and RPO", async () => {
    const r = await cli();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^drill restore public: PASSED \(RTO \d+\.\d min, RPO 12\d\.\d min\)\n/);
    expect(r.out).toMatch(
      new RegExp(
        `  ok      ${gpuVm().name} \\(300\\) → 9903 from pbs:backup/vm/300/nightly, RTO \\d+\\.\\d min, RPO 12\\d\\.\\d min: 1 model manifest\\(s\\) by sha256\\n`,
      ),
    );
    expect(r.err).toContain("restoring pbs:backup/vm/300/nightly into 9903 (pool ai-drill, no network)");
  }, 60_000);

  it("a restore task that fails stops the drill at that guest, names the task's error, and leaves no scratch guest", async () => {
    const failing = plan.guests[1];
    proxmox.failRestoreOf.add(failing.vmId);
    const r = await cli(["--json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(false);
    expect(report.guests.map((g: { status: string }) => g.status)).toEqual(["ok", "failed", "skipped", "skipped"]);
    expect(report.guests[1].detail).toMatch(
      /^restoring pbs:backup\/ct\/310\/nightly into 9901: task UPID:pve1:.*:vzrestore:9901:.* failed: restore failed: chunk not found$/,
    );
    expect(report.leftIn).toBe("the environment was not touched; no scratch guest left; run the drill again once mended");
    expect([...proxmox.guests.keys()].filter((id) => id >= 9900)).toEqual([]);
  }, 60_000);

  it("a restored copy whose models differ from what the environment serves fails, naming the file and both digests", async () => {
    const stale = JSON.stringify({ schemaVersion: 2, layers: [{ digest: "sha256:bbbb" }] });
    const vm = proxmox.backups.find((b) => b.vmid === gpuVm().vmId)!;
    vm.guest!.files = guestsOf(plan, stale)[gpuVm().vmId].files;
    const r = await cli(["--json"]);
    expect(r.code).toBe(1);
    const failed = JSON.parse(r.out).guests.find((g: { status: string }) => g.status === "failed");
    expect(failed.guest).toBe(gpuVm().name);
    expect(failed.detail).toBe(
      `checking 1 file(s) in 9903: the restored copy differs: ${gpuVmModelsDir("public")}/${manifestPath("mistral:7b")} has sha256 ${sha256(stale).slice(0, 12)}, expected ${sha256(MANIFEST).slice(0, 12)}`,
    );
    expect([...proxmox.guests.keys()].filter((id) => id >= 9900)).toEqual([]);
  }, 60_000);

  it("a scratch VMID some guest already has is skipped and left alone", async () => {
    proxmox.guests.set(9900, { node: "pve1", kind: "qemu", status: "running", config: { protection: "0" } });
    const r = await cli(["--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).guests.map((g: { scratchId: number }) => g.scratchId)).toEqual([9901, 9902, 9903, 9904]);
    expect(proxmox.guests.get(9900)?.status).toBe("running");
    expect(writes().filter((l) => l.includes("/9900"))).toEqual([]);
  }, 60_000);

  it("a drill pool that does not exist fails the first restore, naming the pool; nothing is left", async () => {
    proxmox.pools.clear();
    const r = await cli();
    expect(r.code).toBe(1);
    expect(r.out).toContain("restoring pbs:backup/vm/301/nightly into 9900: POST /nodes/pve1/qemu: 500 pool 'ai-drill' does not exist");
    expect(r.out).toContain("left in: the environment was not touched; no scratch guest left");
  }, 60_000);
});

describe("dualstack drill restore: the restic repository read back", () => {
  /** File-level backups on: the stack file carries the environment's restic credentials (encrypted, as set). */
  const withRestic = () => {
    const doc = parse(readFileSync(bed.configFile, "utf8"));
    doc.config["ai-dualstack:resticPassword"] = { secure: "v1:AAAA" };
    doc.config["ai-dualstack:resticPrivateKey"] = { secure: "v1:BBBB" };
    writeFileSync(bed.configFile, stringify(doc));
  };
  const script = resticScriptPath("public", "restore");
  const sum = (c: string) => c.repeat(64);
  const hoursAgo = (h: number) => Math.floor(Date.now() / 1000) - h * 3600;
  /** `restore --drill`'s lines as the script prints them (test/lib/restic.test.ts runs the real one), with restic's noise. */
  const drillLines = (lines: string[][]) => `repository 1a2b3c opened\n${lines.map((f) => ["drill", ...f].join("\t")).join("\n")}\n`;
  const answer = (out: string, exitcode = 0) => {
    proxmox.agentExec = (vmid, command) => (vmid === gpuVm().vmId && command.join(" ") === `bash ${script} --drill` ? { exitcode, out } : undefined);
  };

  it("reads every source's latest snapshot back on the running GPU VM: its age in the RPO, its read time in the RTO, the source now beside it", async () => {
    withRestic();
    answer(
      drillLines([
        ["postgres", "ok", "5f3e2d1c00aa", String(hoursAgo(5)), "24", sum("a"), "1500", sum("a")],
        ["volume-qdrant-data", "ok", "9a8b7c6d00bb", String(hoursAgo(3)), "4096", sum("b"), "61000", sum("c")],
        ["redis", "ok", "0123456700cc", String(hoursAgo(4)), "10", sum("d"), "500", "-"],
      ]),
    );
    const r = await cli(["--json"]);
    expect(r.code, r.err + r.out).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.restic).toMatchObject({ status: "ok", repository: "public", detail: "3 source(s) read back in full" });
    expect(
      report.restic.sources.map((x: { source: string; live: string; snapshot: string; bytes: number }) => [x.source, x.snapshot, x.bytes, x.live]),
    ).toEqual([
      ["postgres", "5f3e2d1c", 24, "same"],
      ["volume-qdrant-data", "9a8b7c6d", 4096, "changed"],
      ["redis", "01234567", 10, "not here"],
    ]);
    // The oldest thing restorable is the 5 h old snapshot, older than the 2 h image backups; the read-backs' times
    // count in the RTO.
    expect(report.rpoSeconds).toBeGreaterThanOrEqual(5 * 3600);
    expect(report.rpoSeconds).toBeLessThan(5 * 3600 + 120);
    const guestsRto = report.guests.reduce((t: number, g: { rtoSeconds: number }) => t + g.rtoSeconds, 0);
    expect(report.rtoSeconds).toBeCloseTo(guestsRto + 63, 5);
    // Asked of the running GPU VM (not of a scratch copy, which has no network to reach the repository), once.
    expect(proxmox.agentCommands.filter((c) => c.command[0] === "bash")).toEqual([{ vmid: gpuVm().vmId, command: ["bash", script, "--drill"] }]);

    const text = await cli();
    expect(text.out).toContain("  restic public: ok: 3 source(s) read back in full\n");
    expect(text.out).toMatch(
      / {4}ok {6}postgres from snapshot 5f3e2d1c, RPO 300\.\d min, read back in 1\.5 s, 24 bytes: sha256 a{12}; the source is unchanged since\n/,
    );
    expect(text.out).toContain("volume-qdrant-data from snapshot 9a8b7c6d");
    expect(text.out).toContain("the source has changed since");
    expect(text.out).toContain("another machine's source (not dumped here)");
  }, 60_000);

  it("a snapshot that cannot be read back fails the drill, naming the source; nothing is touched", async () => {
    withRestic();
    answer(
      drillLines([
        ["postgres", "ok", "5f3e2d1c00aa", String(hoursAgo(5)), "24", sum("a"), "1500", sum("a")],
        ["volume-qdrant-data", "FAILED", "snapshot 9a8b7c6d: /qdrant-data.tar could not be read back"],
      ]),
      1,
    );
    const r = await cli(["--json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(false);
    expect(report.guests.every((g: { status: string }) => g.status === "ok")).toBe(true);
    expect(report.restic).toMatchObject({ status: "failed", detail: "volume-qdrant-data could not be read back" });
    expect(report.restic.sources[1]).toMatchObject({ status: "failed", detail: "snapshot 9a8b7c6d: /qdrant-data.tar could not be read back" });
    expect(report.leftIn).toContain("the restic repository public did not read back (volume-qdrant-data could not be read back): run its check");
    expect([...proxmox.guests.keys()].filter((id) => id >= 9900)).toEqual([]);
  }, 60_000);

  it("a stack with restic whose GPU VM lacks the restore script fails, saying to apply the stack", async () => {
    withRestic();
    const r = await cli(["--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).restic).toMatchObject({
      status: "failed",
      detail: "the stack installs restic on its GPU VM but its restore script is not there: run pulumi up --stack public",
    });
  }, 60_000);

  it("a script that fails without a verdict fails the drill with its exit code and last words", async () => {
    withRestic();
    proxmox.agentExec = () => ({ exitcode: 2, err: "restic: command not found\n" });
    const r = await cli(["--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).restic.detail).toBe(`${script} --drill in ${gpuVm().name} (${gpuVm().vmId}) exited 2: restic: command not found`);
  }, 60_000);

  it("with file-level backups off, the read-back is skipped and said so; the drill passes on its image backups", async () => {
    const r = await cli(["--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).restic).toEqual({
      status: "skipped",
      repository: "public",
      sources: [],
      detail: "file-level backups are off in this stack (no restic on its GPU VM)",
    });
    expect(proxmox.agentCommands.filter((c) => c.command[0] === "bash")).toEqual([]);
  }, 60_000);
});

describe("what a restored copy is checked against", () => {
  const guest = (over: Partial<DrillGuest>): DrillGuest => ({
    vmId: 300,
    name: "public-gpu-vm",
    node: "pve1",
    kind: "vm",
    protectedInState: true,
    datastore: "tank-public",
    started: true,
    agent: true,
    urn: "urn:pulumi:public::ai-dualstack::dualstack:environment:AiEnvironment$dualstack:guest:GpuVm$proxmoxve:index/vmLegacy:VmLegacy::public-gpu-vm",
    dataHolder: 301,
    ...over,
  });
  const inventory = { models: { "mistral:7b": "sha256:abc", gone: "def" }, collections: {}, unhealthy: [] };
  const p = {
    stack: "public",
    guests: [],
    models: ["mistral:7b", "never-pulled:1b"],
    collections: [],
    resticRepository: "public",
    resticOnGpuVm: false,
    maxBackupAgeHours: 26,
  };

  it("the GPU VM: every deployed model the environment serves, by its manifest's sha256", () => {
    expect(restoreChecks(guest({}), p, inventory)).toEqual({ [`${gpuVmModelsDir("public")}/manifests/registry.ollama.ai/library/mistral/7b`]: "abc" });
  });

  it("a container, or the holder that is never started: nothing to ask", () => {
    expect(restoreChecks(guest({ kind: "ct", agent: false }), p, inventory)).toEqual({});
    expect(restoreChecks(guest({ started: false }), p, inventory)).toEqual({});
  });

  it("sha256sum's output, text or binary mode", () => {
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    expect(parseSha256sum(`${a}  /srv/x y\n${b} */srv/z\nsha256sum: /q: No such file or directory\n`)).toEqual({ "/srv/x y": a, "/srv/z": b });
  });
});
