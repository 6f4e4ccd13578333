// Dashboards, logs and discovery, checked by the real tools: every dashboard query goes through Prometheus's own
// parser (promtool); the log gateway runs in the real caddy in front of a Loki stand-in (push only, tenant by
// port); the discovery script runs with real jq against a pvesh stand-in, and the real Prometheus reads the target
// files it writes.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderAlloyConfig } from "../../lib/monitoring/alloy";
import { DASHBOARDS, isLogQuery, renderDashboard } from "../../lib/monitoring/dashboards";
import { renderDiscoveryScript, renderHostMonitoringScript } from "../../lib/monitoring/discovery";
import { DATASOURCE_UIDS, renderDatasources, renderGrafanaIni } from "../../lib/monitoring/grafana";
import { LOG_TENANTS, renderLogGatewayCaddyfile, renderLokiConfig, retentionHours } from "../../lib/monitoring/loki";
import { renderTelemetryInstallScript } from "../../lib/monitoring/telemetry";
import { stdinBundle } from "../../lib/shell";
import { startCaddy } from "../helpers/caddy";
import { makeTestCa } from "../helpers/pki";
import { pemBlock, stubTool } from "../helpers/script-stubs";
import { freePort } from "../helpers/servers";
import { tool } from "../helpers/process";
import { startPrometheus } from "../helpers/prometheus";

let dir: string;
let cleanup: (() => void | Promise<void>)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "observability-"));
});
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  rmSync(dir, { recursive: true, force: true });
});

/** Grafana's variables replaced by what they expand to, so the query parsers see a concrete query. */
const expand = (expr: string) => expr.replaceAll("$__rate_interval", "2m").replaceAll("$__auto", "1m").replaceAll("$env", ".*");

describe("dashboards", () => {
  const panels = DASHBOARDS.flatMap((d) => d.panels.map((p) => ({ dashboard: d.uid, ...p })));

  it("every metrics query passes Prometheus's parser (promtool), and the check can fail", () => {
    const queries = panels.flatMap((p) => p.queries).filter((q) => !isLogQuery(q.expr));
    expect(queries.length).toBeGreaterThan(25);
    const rules = (exprs: string[]) => ({
      groups: [{ name: "dashboards", rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: expand(e) })) }],
    });
    writeFileSync(join(dir, "queries.yml"), JSON.stringify(rules(queries.map((q) => q.expr))));
    const r = spawnSync(tool("promtool"), ["check", "rules", join(dir, "queries.yml")], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    writeFileSync(join(dir, "broken.yml"), JSON.stringify(rules(["sum by (instance (up)"])));
    expect(spawnSync(tool("promtool"), ["check", "rules", join(dir, "broken.yml")]).status).not.toBe(0);
  });

  it("cover the host, the GPUs, the models, the backups and the logs; each is valid Grafana JSON on the provisioned data sources", () => {
    expect(DASHBOARDS.map((d) => d.uid)).toEqual([
      "ai-dualstack-host",
      "ai-dualstack-gpus",
      "ai-dualstack-models",
      "ai-dualstack-backups",
      "ai-dualstack-logs",
    ]);
    for (const d of DASHBOARDS) {
      const json = JSON.parse(renderDashboard(d));
      expect(json.uid).toBe(d.uid);
      expect(json.editable).toBe(false);
      const ids = json.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of json.panels) {
        expect(Object.values(DATASOURCE_UIDS)).toContain(p.datasource.uid);
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
        expect(p.targets.length).toBeGreaterThan(0);
        if (p.type === "logs") expect(p.datasource.uid).toBe(DATASOURCE_UIDS.loki);
      }
      if (d.envVariable) expect(json.templating.list[0]).toMatchObject({ name: "env", query: "platform,private,public" });
    }
    // The alerts' subjects are on the dashboards: GPU temperature, models on the CPU, backup age.
    const all = panels.flatMap((p) => p.queries.map((q) => q.expr)).join("\n");
    for (const metric of [
      "DCGM_FI_DEV_GPU_TEMP",
      "ai_dualstack_ollama_model_vram_ratio",
      "ai_dualstack_backup_last_success_timestamp_seconds",
      "ai_dualstack_restic_check_success",
      "pve_up",
      "container_cpu_usage_seconds_total",
      "probe_ssl_earliest_cert_expiry",
    ]) {
      expect(all).toContain(metric);
    }
  });
});

describe("Grafana and Loki configuration", () => {
  it("Grafana: TLS 1.3, no sign-up or anonymous access, the admin password from a file; data sources on the loopback", () => {
    const ini = renderGrafanaIni({
      ip: "10.10.0.12",
      dataDir: "/var/lib/monitoring/grafana",
      certFile: "/etc/grafana/tls/grafana.crt",
      keyFile: "/etc/grafana/tls/grafana.key",
      passwordFile: "/etc/grafana/admin-password",
    });
    for (const line of [
      "protocol = https",
      "min_tls_version = TLS1.3",
      "admin_password = $__file{/etc/grafana/admin-password}",
      "allow_sign_up = false",
      "reporting_enabled = false",
      "http_addr = 10.10.0.12",
    ])
      expect(ini).toContain(line);
    expect(ini).toMatch(/\[auth\.anonymous\]\nenabled = false/);
    expect(() => renderGrafanaIni({ ip: "10.10.0.12", dataDir: "/x y", certFile: "/a", keyFile: "/b", passwordFile: "/c" })).toThrow(/invalid path/);
    const ds = parse(renderDatasources());
    expect(ds.datasources.map((d: { uid: string; url: string }) => [d.uid, d.url])).toEqual([
      ["prometheus", "http://127.0.0.1:9090"],
      ["loki", "http://127.0.0.1:3100"],
    ]);
    expect(ds.datasources[1].secureJsonData.httpHeaderValue1).toBe(LOG_TENANTS.join("|"));
  });

  it("Loki: loopback only, tenants required, retention in hours; bad retentions named", () => {
    const cfg = parse(renderLokiConfig({ dataDir: "/var/lib/monitoring/loki", retention: "31d" }));
    expect(cfg.auth_enabled).toBe(true);
    expect(cfg.server.http_listen_address).toBe("127.0.0.1");
    expect(cfg.limits_config.retention_period).toBe("744h");
    expect(cfg.compactor.retention_enabled).toBe(true);
    expect(retentionHours("2w")).toBe(336);
    expect(() => retentionHours("31 days")).toThrow(/retention: expected a duration such as "31d"/);
  });

  it("Alloy ships the journal, and the containers' output only where Docker runs, to the gateway over TLS 1.3", () => {
    const base = { pushUrl: "https://10.10.0.12:3102/loki/api/v1/push", caFile: "/etc/alloy/ca.pem", env: "private" as const, host: "private-gpu" };
    const vm = renderAlloyConfig({ ...base, docker: true });
    expect(vm).toContain('loki.source.journal "journal"');
    expect(vm).toContain('loki.source.docker "containers"');
    expect(vm).toContain('url = "https://10.10.0.12:3102/loki/api/v1/push"');
    expect(vm).toContain('min_version = "TLS13"');
    expect(vm).toContain('labels        = {env = "private", host = "private-gpu", job = "docker"}');
    expect(renderAlloyConfig({ ...base, docker: false })).not.toContain("docker");
    // Grafana's own parser reads both variants: valid, in `alloy fmt`'s canonical form, every reference declared.
    const dir = mkdtempSync(join(tmpdir(), "alloy-"));
    const files = [true, false].map((docker) => {
      const file = join(dir, `config-${docker}.alloy`);
      writeFileSync(file, renderAlloyConfig({ ...base, docker }));
      return file;
    });
    const checked = spawnSync(tool("alloy-syntax"), files, { encoding: "utf8" });
    expect(checked.stderr).toBe("");
    expect(checked.status).toBe(0);
    // And it fails where Alloy would: a reference to a component that is not there.
    writeFileSync(files[0], vm.replace("loki.write.gateway.receiver", "loki.write.gw.receiver"));
    const refused = spawnSync(tool("alloy-syntax"), [files[0]], { encoding: "utf8" });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/loki\.write\.gw\.receiver refers to a component the file does not declare/);
    rmSync(dir, { recursive: true, force: true });
    expect(() => renderAlloyConfig({ ...base, docker: false, pushUrl: "http://10.10.0.12:3102/loki/api/v1/push" })).toThrow(/invalid push URL/);
    expect(() => renderAlloyConfig({ ...base, docker: false, host: 'x" }' })).toThrow(/invalid host name/);
  });
});

describe("log gateway (real caddy)", () => {
  it("forwards pushes only, with the tenant of the port whatever the client says; TLS 1.3 with the platform CA", async () => {
    const received: { path: string; tenant: string | undefined; body: string }[] = [];
    const loki = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        received.push({ path: req.url ?? "", tenant: req.headers["x-scope-orgid"] as string | undefined, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => loki.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise<void>((r) => loki.close(() => r())));
    const lokiPort = (loki.address() as { port: number }).port;
    const ca = makeTestCa("test platform CA");
    cleanup.push(() => ca.remove());
    const cert = ca.issue("log-gateway", { ip: ["127.0.0.1"] });
    writeFileSync(join(dir, "logs.crt"), cert.certPem);
    writeFileSync(join(dir, "logs.key"), cert.keyPem, { mode: 0o600 });
    const ports = { platform: await freePort(), private: await freePort(), public: await freePort() };
    const caddyfile = renderLogGatewayCaddyfile(
      { ip: "127.0.0.1", certFile: join(dir, "logs.crt"), keyFile: join(dir, "logs.key"), upstream: `127.0.0.1:${lokiPort}` },
      ports,
    );
    const stop = await startCaddy(dir, caddyfile, Object.values(ports));
    cleanup.push(stop);

    const call = (port: number, method: string, path: string, headers: Record<string, string> = {}, caPem = ca.certPem) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, method, path, ca: caPem, minVersion: "TLSv1.3", headers: { "content-type": "application/json", ...headers } },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(method === "POST" ? '{"streams":[]}' : undefined);
      });
    expect(await call(ports.public, "POST", "/loki/api/v1/push", { "X-Scope-OrgID": "private" })).toBe(204);
    expect(await call(ports.private, "POST", "/loki/api/v1/push")).toBe(204);
    expect(received.map((r) => [r.path, r.tenant, r.body])).toEqual([
      ["/loki/api/v1/push", "public", '{"streams":[]}'],
      ["/loki/api/v1/push", "private", '{"streams":[]}'],
    ]);
    // Reading logs, or anything but a push, is refused at the gateway and never reaches Loki.
    expect(await call(ports.public, "GET", '/loki/api/v1/query_range?query={env="private"}')).toBe(403);
    expect(await call(ports.public, "GET", "/loki/api/v1/push")).toBe(403);
    expect(await call(ports.platform, "POST", "/loki/api/v1/tail")).toBe(403);
    expect(received).toHaveLength(2);
    const other = makeTestCa("another CA");
    cleanup.push(() => other.remove());
    await expect(call(ports.private, "POST", "/loki/api/v1/push", {}, other.certPem)).rejects.toThrow(/certificate/i);
  });
});

/** A pvesh stand-in that answers from JSON files in `api` (path with / → _), as `--output-format json` would. */
function pveshStub(bin: string, log: string, api: string) {
  stubTool(bin, log, "pvesh", `path="$2"; f="${api}/$(echo "$path" | tr / _).json"; [ -f "$f" ] || { echo "no such path $path" >&2; exit 2; }; cat "$f"`);
}

describe("guest discovery (real jq, pvesh stand-in, real Prometheus reading the files)", () => {
  const resources = [
    {
      id: "qemu/200",
      vmid: 200,
      type: "qemu",
      node: "pve1",
      name: "private-gpu",
      status: "running",
      template: 0,
      tags: "env-private;gpu;managed-by-ai-dualstack;stack-private",
    },
    {
      id: "qemu/201",
      vmid: 201,
      type: "qemu",
      node: "pve1",
      name: "private-gpu-data",
      status: "stopped",
      template: 0,
      tags: "data-holder;env-private;managed-by-ai-dualstack;stack-private",
    },
    {
      id: "lxc/210",
      vmid: 210,
      type: "lxc",
      node: "pve1",
      name: "private-postgres",
      status: "running",
      template: 0,
      tags: "env-private;managed-by-ai-dualstack;postgres;stack-private",
    },
    {
      id: "lxc/110",
      vmid: 110,
      type: "lxc",
      node: "pve1",
      name: "platform-security",
      status: "running",
      template: 0,
      tags: "env-platform;managed-by-ai-dualstack;stack-host;vault",
    },
    {
      id: "qemu/300",
      vmid: 300,
      type: "qemu",
      node: "pve1",
      name: "public-gpu",
      status: "running",
      template: 0,
      tags: "env-public;gpu;managed-by-ai-dualstack;stack-public",
    },
    { id: "qemu/900", vmid: 900, type: "qemu", node: "pve1", name: "someone-elses", status: "running", template: 0, tags: "env-private" },
    { id: "qemu/901", vmid: 901, type: "qemu", node: "pve1", name: "tmpl", status: "stopped", template: 1, tags: "env-public;managed-by-ai-dualstack" },
    {
      id: "lxc/311",
      vmid: 311,
      type: "lxc",
      node: "pve1",
      name: "public-dhcp",
      status: "running",
      template: 0,
      tags: "env-public;managed-by-ai-dualstack;redis",
    },
  ];
  const configs: Record<string, object> = {
    qemu_200: { ipconfig0: "ip=10.20.0.10/24,gw=10.20.0.1" },
    lxc_210: { net0: "name=eth0,bridge=vmbr20,firewall=1,gw=10.20.0.1,hwaddr=BC:24:11:00:00:01,ip=10.20.0.11/24,type=veth" },
    qemu_300: { ipconfig0: "ip=10.30.0.10/24,gw=10.30.0.1" },
    lxc_311: { net0: "name=eth0,bridge=vmbr30,ip=dhcp,type=veth" },
  };

  function setup() {
    const bin = join(dir, "bin");
    const api = join(dir, "api");
    const container = join(dir, "container");
    for (const d of [bin, api, container]) mkdirSync(d);
    const log = join(dir, "calls.log");
    writeFileSync(log, "");
    writeFileSync(join(api, "_cluster_resources.json"), JSON.stringify(resources));
    for (const [k, v] of Object.entries(configs)) writeFileSync(join(api, `_nodes_pve1_${k}_config.json`), JSON.stringify(v));
    pveshStub(bin, log, api);
    // pct push VMID SRC DEST: into the monitoring container's root.
    stubTool(bin, log, "pct", `mkdir -p "$(dirname "${container}$4")"; cp "$3" "${container}$4"`);
    const env = { PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_DISCOVERY_STATE: join(dir, "state"), AI_DUALSTACK_METRICS_DIR: join(dir, "metrics") };
    const script = join(dir, "discover");
    writeFileSync(script, renderDiscoveryScript({ monitoringVmId: 112 }));
    chmodSync(script, 0o755);
    const run = () => spawnSync(script, [], { encoding: "utf8", env });
    return { run, log, api, container };
  }

  it("finds the environments' guests with their addresses; leaves out the platform's, holders, templates, foreign and DHCP guests", () => {
    const { run, log, container } = setup();
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("lxc/311 has no static IPv4 address; skipped");
    const node = JSON.parse(readFileSync(join(container, "etc/prometheus/targets/node-discovered.json"), "utf8"));
    expect(node).toEqual([
      { targets: ["10.20.0.10:9100"], labels: { env: "private", guest: "private-gpu", vmid: "200", service: "gpu" } },
      { targets: ["10.20.0.11:9100"], labels: { env: "private", guest: "private-postgres", vmid: "210", service: "postgres" } },
      { targets: ["10.30.0.10:9100"], labels: { env: "public", guest: "public-gpu", vmid: "300", service: "gpu" } },
    ]);
    const gpu = JSON.parse(readFileSync(join(container, "etc/prometheus/targets/gpu-discovered.json"), "utf8"));
    expect(gpu.map((g: { targets: string[] }) => g.targets[0])).toEqual(["10.20.0.10:9400", "10.30.0.10:9400"]);
    const containers = JSON.parse(readFileSync(join(container, "etc/prometheus/targets/containers-discovered.json"), "utf8"));
    expect(containers.map((g: { targets: string[] }) => g.targets[0])).toEqual(["10.20.0.10:9338", "10.30.0.10:9338"]);
    expect(readFileSync(join(dir, "metrics/ai-dualstack-discovery.prom"), "utf8")).toContain("ai_dualstack_discovery_success 1\n");
    expect(readFileSync(join(dir, "metrics/ai-dualstack-discovery.prom"), "utf8")).toContain("ai_dualstack_discovery_targets 3\n");
    // promtool accepts the discovery's own metrics.
    expect(
      spawnSync(tool("promtool"), ["check", "metrics"], { input: readFileSync(join(dir, "metrics/ai-dualstack-discovery.prom")), encoding: "utf8" }).status,
    ).toBe(0);

    // Nothing changed: nothing pushed again.
    writeFileSync(log, "");
    expect(run().status).toBe(0);
    expect(readFileSync(log, "utf8")).not.toContain("pct push");
  });

  it("an API failure keeps the previous targets and records the failure", () => {
    const { run, api, container } = setup();
    expect(run().status).toBe(0);
    rmSync(join(api, "_cluster_resources.json"));
    const r = run();
    expect(r.status).not.toBe(0);
    expect(existsSync(join(container, "etc/prometheus/targets/node-discovered.json"))).toBe(true);
    expect(readFileSync(join(dir, "metrics/ai-dualstack-discovery.prom"), "utf8")).toContain("ai_dualstack_discovery_success 0\n");
  });

  it("the real Prometheus reads the discovered files and labels the targets by environment", async () => {
    const { run, container } = setup();
    expect(run().status).toBe(0);
    const targetsDir = join(container, "etc/prometheus/targets");
    const prom = await startPrometheus(dir, {
      global: { scrape_interval: "1h" },
      scrape_configs: ["node", "gpu", "containers"].map((job) => ({ job_name: job, file_sd_configs: [{ files: [`${targetsDir}/${job}-*.json`] }] })),
    });
    cleanup.push(() => prom.stop());
    let active: { labels: Record<string, string> }[] = [];
    for (let i = 0; i < 100 && active.length < 7; i++) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        const res = await fetch(`${prom.url}/api/v1/targets`);
        active = ((await res.json()) as { data: { activeTargets: typeof active } }).data.activeTargets;
      } catch {
        /* not up yet */
      }
    }
    const seen = active.map((t) => `${t.labels.job} ${t.labels.instance} ${t.labels.env} ${t.labels.guest}`).sort();
    expect(seen).toEqual([
      "containers 10.20.0.10:9338 private private-gpu",
      "containers 10.30.0.10:9338 public public-gpu",
      "gpu 10.20.0.10:9400 private private-gpu",
      "gpu 10.30.0.10:9400 public public-gpu",
      "node 10.20.0.10:9100 private private-gpu",
      "node 10.20.0.11:9100 private private-postgres",
      "node 10.30.0.10:9100 public public-gpu",
    ]);
  }, 30_000);
});

describe("node and guest install scripts", () => {
  it("the node's script keeps the read-only token out of the script, in a file only the exporter reads; refuses a malformed token", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    for (const s of ["apt-get", "systemctl", "chown", "useradd", "pct"]) stubTool(bin, log, s, "");
    stubTool(bin, log, "dpkg-query", 'echo -n "install ok installed"');
    stubTool(bin, log, "id", "exit 0");
    // python3 -m venv DIR: a venv whose pip reports the pinned version after install.
    stubTool(
      bin,
      log,
      "python3",
      'mkdir -p "$3/bin"; printf \'#!/bin/bash\\necho "pip $*" >> "%s"\\n[ "$1" = show ] && echo "Version: 3.10.2"\\nexit 0\\n\' "' +
        log +
        '" > "$3/bin/pip"; chmod +x "$3/bin/pip"',
    );
    const root = join(dir, "root");
    const script = renderHostMonitoringScript({ address: "192.168.10.2", pveExporterVersion: "3.10.2", discovery: true, monitoringVmId: 112 });
    const token = "ai-dualstack-monitoring@pve!exporter=0f4a1e6c-secret";
    const run = (input: string) => spawnSync("bash", ["-c", script], { input, encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root } });
    const r = run(stdinBundle({ secretLine: token, pems: [] }));
    expect(r.status, r.stderr).toBe(0);
    expect(script).not.toContain("0f4a1e6c");
    const cfg = join(root, "etc/ai-dualstack/pve-exporter.yml");
    expect(parse(readFileSync(cfg, "utf8"))).toEqual({
      default: { user: "ai-dualstack-monitoring@pve", token_name: "exporter", token_value: "0f4a1e6c-secret", verify_ssl: true },
    });
    expect(statSync(cfg).mode & 0o777).toBe(0o600);
    expect(readFileSync(log, "utf8")).toContain("pip install --quiet --disable-pip-version-check prometheus-pve-exporter==3.10.2");
    expect(readFileSync(join(root, "etc/systemd/system/ai-dualstack-pve-exporter.service"), "utf8")).toContain("--web.listen-address=192.168.10.2:9221");
    expect(readFileSync(log, "utf8")).toContain("systemctl enable --now ai-dualstack-discovery.timer");
    const bad = run(stdinBundle({ secretLine: "not-a-token", pems: [] }));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("expected the monitoring token as user@realm!name=secret");
  });

  it("a GPU VM's telemetry: node exporter, Alloy (pinned, from the checked repository), cAdvisor on its address, the model probe", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    for (const s of ["apt-get", "apt-mark", "systemctl", "chown", "usermod", "getent"]) stubTool(bin, log, s, "");
    stubTool(bin, log, "dpkg-query", 'case "$*" in *Version*alloy*) echo -n 1.21.2 ;; *) echo -n "install ok installed" ;; esac');
    const root = join(dir, "root");
    const script = renderTelemetryInstallScript({
      tenant: "private",
      host: "private-gpu",
      ip: "10.20.0.10",
      pushUrl: "https://10.10.0.12:3102/loki/api/v1/push",
      alloyVersion: "1.21.2",
      aptKeyFingerprints: ["B53AE77BADB630A683046005963FA27710458545"],
      docker: true,
      composeProject: "private",
      probe: { url: "http://127.0.0.1:11434", expected: ["qwen2.5:32b"] },
    });
    const r = spawnSync("bash", ["-c", script], {
      input: pemBlock("CERTIFICATE", "platform-ca"),
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(root, "etc/alloy/ai-dualstack-ca.pem"), "utf8")).toBe(pemBlock("CERTIFICATE", "platform-ca"));
    expect(readFileSync(join(root, "etc/alloy/config.alloy"), "utf8")).toContain('loki.source.docker "containers"');
    expect(readFileSync(join(root, "etc/systemd/system/cadvisor.service.d/ai-dualstack.conf"), "utf8")).toContain("-listen_ip=10.20.0.10 -port=9338");
    expect(readFileSync(join(root, "usr/local/lib/ai-dualstack/ollama-probe"), "utf8")).toContain("qwen2.5:32b");
    const calls = readFileSync(log, "utf8");
    expect(calls).not.toContain("apt-get install");
    for (const c of [
      "systemctl restart alloy",
      "systemctl restart cadvisor",
      "systemctl enable --now ai-dualstack-ollama-probe.timer",
      "systemctl enable --now ai-dualstack-service-probe.timer",
    ])
      expect(calls).toContain(c);
    expect(readFileSync(join(root, "usr/local/lib/ai-dualstack/service-probe"), "utf8")).toContain("label=com.docker.compose.project=private");
    // systemd accepts the probes' units.
    const units = ["ollama", "service"]
      .flatMap((p) => [`ai-dualstack-${p}-probe.service`, `ai-dualstack-${p}-probe.timer`])
      .map((u) => join(root, "etc/systemd/system", u));
    const verify = spawnSync(tool("systemd-analyze"), ["verify", ...units], { encoding: "utf8", env: { ...process.env, SYSTEMD_LOG_LEVEL: "err" } });
    expect(
      verify.stderr.split("\n").filter((l) => /ai-dualstack-(ollama|service)-probe/.test(l) && !/ExecStart|executable|not found|No such file/i.test(l)),
    ).toEqual([]);
  });

  it("an Alloy from the repository at another version is installed only after the key's fingerprint is checked", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    for (const s of ["apt-get", "apt-mark", "systemctl", "chown", "usermod", "curl"]) stubTool(bin, log, s, "");
    stubTool(bin, log, "dpkg-query", 'case "$*" in *Version*alloy*) echo -n 1.20.0 ;; *) echo -n "install ok installed" ;; esac');
    // gpg --dearmor writes the keyring; the listing shows a primary key with another fingerprint.
    stubTool(
      bin,
      log,
      "gpg",
      'case "$*" in *dearmor*) touch "${@: -1}" ;; *) echo "pub:-:4096:1:963FA27710458545:::::::"; echo "fpr:::::::::0000000000000000000000000000000000000000:" ;; esac',
    );
    const root = join(dir, "root");
    mkdirSync(join(root, "usr/share/keyrings"), { recursive: true });
    mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
    writeFileSync(join(root, "etc/os-release"), "VERSION_CODENAME=bookworm\n");
    const script = renderTelemetryInstallScript({
      tenant: "public",
      host: "public-redis",
      ip: "10.30.0.12",
      pushUrl: "https://10.10.0.12:3103/loki/api/v1/push",
      alloyVersion: "1.21.2",
      aptKeyFingerprints: ["B53AE77BADB630A683046005963FA27710458545"],
      docker: false,
    });
    const r = spawnSync("bash", ["-c", script], {
      input: pemBlock("CERTIFICATE", "platform-ca"),
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "Grafana Labs's apt key has the fingerprint 0000000000000000000000000000000000000000, not one of B53AE77BADB630A683046005963FA27710458545: refusing to install",
    );
    expect(readFileSync(log, "utf8")).not.toContain("alloy=1.21.2");
    expect(existsSync(join(root, "etc/apt/sources.list.d/grafana.list"))).toBe(false);
  });
});
