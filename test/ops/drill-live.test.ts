// `dualstack drill` and `dualstack backup` with their live adapters end to end, on a local testbed: the Proxmox API
// stand-in over HTTPS (a test CA; no real Proxmox runs here), the real Prometheus scraping the restic metrics, the
// Ollama and Qdrant stand-ins for the inventory, and a scripted engine whose destroy takes the unprotected guests
// (and, out of band, one protected container) away and whose up brings the unprotected ones back.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main, type Deps } from "../../ops/cli";
import { drillPlan, type DrillPlan } from "../../ops/drill";
import { evaluateStack } from "../../ops/engine";
import type { StackWorkspace } from "../../ops/workspace";
import { startFakeProxmox, type FakeProxmox } from "../helpers/fake-proxmox";
import { nightlyBackups, startDrillTestbed, type DrillTestbed } from "../helpers/drill-testbed";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { startPrometheus } from "../helpers/prometheus";
import { memoryJournal } from "../helpers/drill-journal";

let dir: string;
let plan: DrillPlan;
let ca: TestCa;
let prometheus: { url: string; metrics: { text: string }; stop: () => Promise<void> };

/** The real Prometheus, scraping every second a metrics page the test writes (as node exporter's textfile would). */
async function startScrapingPrometheus(workDir: string) {
  const metrics = { text: "" };
  const page: Server = createServer((_req, res) => res.end(metrics.text));
  await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
  const pagePort = (page.address() as { port: number }).port;
  const prom = await startPrometheus(workDir, {
    global: { scrape_interval: "1s" },
    scrape_configs: [{ job_name: "node", static_configs: [{ targets: [`127.0.0.1:${pagePort}`] }] }],
  }).catch((err) => {
    page.close();
    throw err;
  });
  const stop = async () => {
    await prom.stop();
    await new Promise<void>((r) => page.close(() => r()));
  };
  return { url: prom.url, metrics, stop };
}

/** Waits until Prometheus's last scrape shows `expr` with `value`. */
async function until(expr: string, value: string) {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      if (body.data.result[0]?.value[1] === value) return;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Prometheus never showed ${expr} = ${value}`);
}

const resticMetrics = (success: 0 | 1, ageSeconds: number) =>
  [
    "# TYPE ai_dualstack_restic_check_success gauge",
    `ai_dualstack_restic_check_success{repository="public"} ${success}`,
    "# TYPE ai_dualstack_restic_check_timestamp_seconds gauge",
    `ai_dualstack_restic_check_timestamp_seconds{repository="public"} ${Math.floor(Date.now() / 1000) - ageSeconds}`,
    "",
  ].join("\n");

beforeAll(async () => {
  plan = drillPlan(await evaluateStack("public"));
  dir = mkdtempSync(join(tmpdir(), "drill-live-"));
  ca = makeTestCa("test Proxmox CA");
  writeFileSync(join(dir, "pve-ca.pem"), ca.certPem);
  prometheus = await startScrapingPrometheus(dir);
}, 60_000);
afterAll(async () => {
  await prometheus?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

let proxmox: FakeProxmox;
let bed: DrillTestbed;
let configFile: string;
beforeEach(async () => {
  proxmox = await startFakeProxmox(ca, Object.fromEntries(plan.guests.map((g) => [g.vmId, { node: g.node, kind: g.kind === "vm" ? "qemu" : "lxc" }])));
  nightlyBackups(proxmox, plan);
  bed = await startDrillTestbed(dir, proxmox, "sha256:6577803aa9a0");
  configFile = bed.configFile;
});
afterEach(async () => {
  await proxmox.close();
  await bed.stop();
});

/** The engine, scripted: destroy --exclude-protected takes the unprotected guests away, up brings them back. */
function engine(calls: string[], lostOutOfBand?: number): StackWorkspace {
  const unprotected = plan.guests.filter((g) => !g.protectedInState);
  return {
    refreshPreview: async () => [],
    destroyExcludingProtected: async (stack) => {
      calls.push(`destroy --exclude-protected ${stack}`);
      for (const g of unprotected) proxmox.guests.delete(g.vmId);
      if (lostOutOfBand !== undefined) proxmox.guests.delete(lostOutOfBand);
    },
    up: async (stack) => {
      calls.push(`up ${stack}`);
      for (const g of unprotected) proxmox.guests.set(g.vmId, { node: g.node, kind: g.kind === "vm" ? "qemu" : "lxc" });
    },
    ...bed.outputs,
  };
}

async function cli(argv: string[], deps: Deps = {}) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) }, { drillJournal: memoryJournal(), ...deps });
  return { code, out, err };
}

const live = ["--config", () => configFile, "--proxmox-ca", () => join(dir, "pve-ca.pem"), "--prometheus", () => prometheus.url] as const;
const args = (...head: string[]) => [...head, ...live.map((a) => (typeof a === "function" ? a() : a))];

describe("dualstack drill (live adapters)", () => {
  it("runs end to end: protected backups of every guest, destroy, rebuild, a lost container restored, the inventory verified; RTO and RPO", async () => {
    prometheus.metrics.text = resticMetrics(1, 3600);
    await until('ai_dualstack_restic_check_success{repository="public"}', "1");
    const calls: string[] = [];
    const lost = plan.guests.find((g) => g.kind === "ct")!;
    const r = await cli(args("drill", "rebuild", "public", "--yes", "--json"), { workspace: engine(calls, lost.vmId) });
    expect(r.code, r.err + r.out).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(true);
    expect(report.steps.map((s: { step: string; status: string }) => `${s.step} ${s.status}`)).toEqual([
      "preflight-backups ok",
      "preflight-restic ok",
      "inventory ok",
      "protected-backup ok",
      "destroy ok",
      "rebuild ok",
      "restore ok",
      "verify ok",
    ]);
    expect(report.steps.find((s: { step: string }) => s.step === "inventory").detail).toBe("1 model(s), 1 collection(s)");
    expect(report.steps.find((s: { step: string }) => s.step === "restore").detail).toBe(`restored: ${lost.name}`);
    expect(report.rtoSeconds).toBeGreaterThanOrEqual(0);
    expect(report.rpoSeconds).toBeLessThan(120);
    expect(calls).toEqual(["destroy --exclude-protected public", "up public"]);
    // Every guest got a protected backup through vzdump; the lost container came back from its own.
    const vzdumps = proxmox.log.filter((l) => l.startsWith("POST /api2/json/nodes/pve1/vzdump"));
    expect(vzdumps).toHaveLength(plan.guests.length);
    expect(
      proxmox.backups
        .filter((b) => b.protected === 1)
        .map((b) => b.vmid)
        .sort(),
    ).toEqual(plan.guests.map((g) => g.vmId).sort());
    expect(proxmox.log).toContain("POST /api2/json/nodes/pve1/lxc");
    expect(proxmox.guests.has(lost.vmId)).toBe(true);
    // Nothing was deleted through the API, and the token never shows.
    expect(proxmox.log.some((l) => l.startsWith("DELETE"))).toBe(false);
    expect(r.out + r.err).not.toContain(proxmox.token.split("=")[1]);
    expect(r.err).toContain("protected-backup: ok");
  }, 60_000);

  it("stops before anything is touched when the last restic check failed", async () => {
    prometheus.metrics.text = resticMetrics(0, 600);
    await until('ai_dualstack_restic_check_success{repository="public"}', "0");
    const calls: string[] = [];
    const r = await cli(args("drill", "rebuild", "public", "--yes"), { workspace: engine(calls) });
    expect(r.code).toBe(1);
    expect(r.out).toContain("drill rebuild public: FAILED");
    expect(r.out).toContain("failed  preflight-restic");
    expect(r.out).toContain("left in: nothing changed");
    expect(calls).toEqual([]);
    expect(proxmox.log.some((l) => l.includes("vzdump"))).toBe(false);
  }, 30_000);

  it("a failed protected backup stops the drill with nothing destroyed", async () => {
    prometheus.metrics.text = resticMetrics(1, 60);
    await until('ai_dualstack_restic_check_success{repository="public"}', "1");
    proxmox.failBackupOf.add(plan.guests[1].vmId);
    const calls: string[] = [];
    const r = await cli(args("drill", "rebuild", "public", "--yes"), { workspace: engine(calls) });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/failed\s+protected-backup .*task UPID:pve1:.*failed: job errors/);
    expect(r.out).toContain("left in: nothing changed");
    expect(calls).toEqual([]);
  }, 30_000);

  it("a wrong token is refused by the API, stops at the preflight, and is never shown; no token at all is an input error", async () => {
    prometheus.metrics.text = resticMetrics(1, 60);
    process.env.DUALSTACK_PROXMOX_TOKEN = "root@pam!drill=wrong-secret-value";
    const r = await cli(args("drill", "rebuild", "public", "--yes"), { workspace: engine([]) });
    expect(r.code).toBe(1);
    expect(r.out).toContain("401 authentication failure");
    expect(r.out + r.err).not.toContain("wrong-secret-value");
    delete process.env.DUALSTACK_PROXMOX_TOKEN;
    const none = await cli(args("drill", "rebuild", "public", "--yes"), { workspace: engine([]) });
    expect(none.code).toBe(2);
    expect(none.err).toContain("DUALSTACK_PROXMOX_TOKEN: expected an API token (user@realm!name=secret)");
  });
});

describe("dualstack backup", () => {
  it("takes a protected backup of every guest now and lists them", async () => {
    const r = await cli(
      args("backup", "public", "--json").filter((_, i, a) => !(a[i] === "--prometheus" || a[i - 1] === "--prometheus")),
      { workspace: engine([]) },
    );
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.storage).toBe("pbs");
    expect(out.backups.map((b: { vmId: number }) => b.vmId)).toEqual(plan.guests.map((g) => g.vmId));
    for (const b of out.backups) expect(b.volid).toMatch(/^pbs:backup\/(vm|ct)\/\d+\/\d{4}-/);
    expect(proxmox.backups.filter((b) => b.protected === 1)).toHaveLength(plan.guests.length);
  });

  it("stops at the first failure, says how far it got, and deletes nothing", async () => {
    proxmox.failBackupOf.add(plan.guests[0].vmId);
    const r = await cli(
      args("backup", "public").filter((_, i, a) => !(a[i] === "--prometheus" || a[i - 1] === "--prometheus")),
      { workspace: engine([]) },
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(`backup: ${plan.guests[0].name} (${plan.guests[0].vmId}): task`);
    expect(r.err).toContain(`0 of ${plan.guests.length} guest(s) backed up, nothing deleted`);
  });

  it("refuses an untrusted Proxmox certificate", async () => {
    const other = makeTestCa("another CA");
    writeFileSync(join(dir, "other-ca.pem"), other.certPem);
    other.remove();
    const r = await cli(["backup", "public", "--config", configFile, "--proxmox-ca", join(dir, "other-ca.pem")], { workspace: engine([]) });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach https:\/\/127\.0\.0\.1:\d+\/ \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/);
  });
});
