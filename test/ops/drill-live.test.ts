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
import { drillPlan, type DrillGuest, type DrillPlan } from "../../ops/drill";
import { ProxmoxApi } from "../../ops/proxmox-api";
import { evaluateStack } from "../../ops/engine";
import type { StackWorkspace } from "../../ops/workspace";
import { startFakeProxmox, type FakeGuest, type FakeProxmox } from "../helpers/fake-proxmox";
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
  proxmox = await startFakeProxmox(ca, Object.fromEntries(plan.guests.map((g) => [g.vmId, declared(g)])));
  nightlyBackups(proxmox, plan);
  bed = await startDrillTestbed(dir, proxmox, "sha256:6577803aa9a0");
  configFile = bed.configFile;
});
afterEach(async () => {
  await proxmox.close();
  await bed.stop();
});

/** A guest as the program declares it: protected in Proxmox, the GPU VM with its holder's disk as its data disk. */
function declared(g: DrillGuest): FakeGuest {
  return {
    node: g.node,
    kind: g.kind === "vm" ? "qemu" : "lxc",
    status: g.started ? "running" : "stopped",
    config: {
      protection: "1",
      ...(g.dataHolder !== undefined ? { scsi1: `tank-public:vm-${g.dataHolder}-disk-0,backup=1,discard=on,iothread=1,size=200G` } : {}),
    },
  };
}

/**
 * The engine and the provider, scripted: the state's protect flags (the program's, until the drill takes one off);
 * destroy --exclude-protected stopping and deleting through the API every guest unprotected in the state, so that
 * Proxmox's own protection still refuses a guest protected there (and, out of band, one protected container lost);
 * up creating what the destroy took, as the program declares it (protected again).
 */
function engine(calls: string[], lostOutOfBand?: number): StackWorkspace {
  const inState = new Set(plan.guests.filter((g) => g.protectedInState).map((g) => g.urn));
  const destroyed: DrillGuest[] = [];
  const api = () => new ProxmoxApi({ endpoint: proxmox.url, token: proxmox.token, caCert: ca.certPem, pollMilliseconds: 50 });
  return {
    refreshPreview: async () => [],
    unprotect: async (stack, urns) => {
      calls.push(`unprotect ${stack} ${urns.map((u) => u.split("::").at(-1)).join(",")}`);
      return urns.filter((u) => inState.delete(u));
    },
    destroyExcludingProtected: async (stack) => {
      calls.push(`destroy --exclude-protected ${stack}`);
      for (const g of plan.guests.filter((x) => !inState.has(x.urn))) {
        const kind = g.kind === "vm" ? "qemu" : "lxc";
        if (proxmox.guests.get(g.vmId)?.status !== "stopped")
          await api().waitTask(g.node, await api().call<string>("POST", `/nodes/${g.node}/${kind}/${g.vmId}/status/stop`));
        await api().waitTask(g.node, await api().call<string>("DELETE", `/nodes/${g.node}/${kind}/${g.vmId}`));
        destroyed.push(g);
      }
      if (lostOutOfBand !== undefined) proxmox.guests.delete(lostOutOfBand);
    },
    up: async (stack) => {
      calls.push(`up ${stack}`);
      for (const g of destroyed.splice(0)) {
        proxmox.guests.set(g.vmId, declared(g));
        if (g.protectedInState) inState.add(g.urn);
      }
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
    expect(calls).toEqual(["unprotect public public-gpu-vm", "destroy --exclude-protected public", "up public"]);
    // The GPU VM went with the destroy, its protection taken off first, once its data disk was seen on its holder;
    // the rebuild made it again, protected (the verification asked).
    expect(proxmox.forms).toContainEqual({ call: "PUT /api2/json/nodes/pve1/qemu/300/config", params: { protection: "0" } });
    expect(proxmox.guests.get(300)?.config?.protection).toBe("1");
    expect(proxmox.guests.get(301)?.config?.protection).toBe("1");
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
    // Restored stopped, as Proxmox restores; the drill started it before the verification.
    expect(proxmox.guests.get(lost.vmId)?.status).toBe("running");
    expect(proxmox.starts.map((st) => st.vmid)).toEqual([lost.vmId]);
    // The drill deleted nothing through the API: the one delete is the engine's, of the GPU VM. The token never shows.
    expect(proxmox.log.filter((l) => l.startsWith("DELETE"))).toEqual(["DELETE /api2/json/nodes/pve1/qemu/300"]);
    expect(r.out + r.err).not.toContain(proxmox.token.split("=")[1]);
    expect(r.err).toContain("protected-backup: ok");
  }, 60_000);

  it("leaves a GPU VM whose data disk is not its holder's protected: the drill stops at the destroy, nothing deleted", async () => {
    prometheus.metrics.text = resticMetrics(1, 60);
    await until('ai_dualstack_restic_check_success{repository="public"}', "1");
    proxmox.guests.get(300)!.config!.scsi1 = "tank-public:vm-300-disk-1,size=200G";
    const calls: string[] = [];
    const r = await cli(args("drill", "rebuild", "public", "--yes"), { workspace: engine(calls) });
    expect(r.code).toBe(1);
    expect(r.out).toContain("public-gpu-vm (300) has no disk of its holder 301 attached: its data would go with it, so it is left protected");
    expect(calls).toEqual([]);
    expect(proxmox.guests.get(300)?.config?.protection).toBe("1");
    expect(proxmox.log.some((l) => l.startsWith("DELETE") || l.startsWith("PUT"))).toBe(false);
  }, 30_000);

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
