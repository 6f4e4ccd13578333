// The monitoring configuration, checked by the real tools: promtool (Debian's prometheus package) checks the
// Prometheus configuration and the rules, and runs the alert rules' unit tests; the model probe runs against the
// local Ollama stand-in and its output passes `promtool check metrics`; the backup metrics the restic scripts write
// are read by the same rules.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { renderOllamaProbeScript } from "../../lib/monitoring/ollama-probe";
import { DEFAULT_THRESHOLDS, alertRules, renderAlertRules, renderBlackboxConfig, renderPrometheusConfig, renderTargets } from "../../lib/monitoring/prometheus";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama";
import { run, tool } from "../helpers/process";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "monitoring-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: string[], input?: string) {
  const r = spawnSync(tool("promtool"), args, { cwd: dir, encoding: "utf8", input });
  if (r.error) throw new Error("promtool is not installed: apt-get install prometheus (.ci/run does)");
  return { code: r.status, out: r.stdout + r.stderr };
}

const layout = { scrapeInterval: "30s", evaluationInterval: "30s", proxmoxNodes: ["192.168.10.2"], tlsEndpoints: ["10.10.0.10:8200"], retention: "30d" };

describe("Prometheus configuration", () => {
  it("passes promtool check config, with its rule files", () => {
    mkdirSync(join(dir, "rules"));
    writeFileSync(join(dir, "rules/ai-dualstack.yml"), renderAlertRules());
    const config = renderPrometheusConfig(layout).replaceAll("/etc/prometheus/", `${dir}/`);
    writeFileSync(join(dir, "prometheus.yml"), config);
    const r = promtool(["check", "config", "prometheus.yml"]);
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/SUCCESS: 1\d rules found/);
  });

  it("a broken configuration fails the check (the check can fail)", () => {
    writeFileSync(join(dir, "prometheus.yml"), "scrape_configs:\n  - job_name: x\n    scrape_interval: soon\n");
    expect(promtool(["check", "config", "prometheus.yml"]).code).not.toBe(0);
  });

  it("target files are file_sd JSON with plain labels; unsafe targets and labels are refused", () => {
    const text = renderTargets([{ targets: ["10.20.0.10:9100"], labels: { env: "private", stack: "private", service: "gpu-vm" } }]);
    expect(JSON.parse(text)).toEqual([{ targets: ["10.20.0.10:9100"], labels: { env: "private", stack: "private", service: "gpu-vm" } }]);
    expect(() => renderTargets([{ targets: ["http://x:1"], labels: {} }])).toThrow(/invalid target/);
    expect(() => renderTargets([{ targets: ["x:1"], labels: { __address__: "y" } }])).toThrow(/invalid label/);
  });

  it("the blackbox module is valid YAML with the CA bundle", () => {
    expect(renderBlackboxConfig("/etc/ssl/ai-dualstack/cas.pem")).toContain("ca_file: /etc/ssl/ai-dualstack/cas.pem");
  });
});

const WATCHDOG = { summary: "the alerting pipeline works", description: "Always firing, by design: the heartbeat receiver raises the alarm when it stops." };

describe("alert rules", () => {
  it("pass promtool check rules and cover every promised condition", () => {
    writeFileSync(join(dir, "rules.yml"), renderAlertRules());
    const r = promtool(["check", "rules", "rules.yml"]);
    expect(r.code, r.out).toBe(0);
    expect(alertRules().flatMap((g) => g.rules.map((x) => x.alert))).toEqual([
      "Watchdog",
      "GuestDown",
      "TargetDown",
      "DiscoveryFailing",
      "DiskFilling",
      "GpuTemperatureHigh",
      "GpuVramNearlyFull",
      "ModelNotLoaded",
      "ModelOnCpu",
      "OllamaProbeFailing",
      "ServiceDown",
      "ServiceUnhealthy",
      "ServiceProbeFailing",
      "BackupFailed",
      "BackupTooOld",
      "ResticCheckFailed",
      "ResticCheckTooOld",
      "CertificateExpiringSoon",
    ]);
  });

  it("fire as intended under promtool test rules", () => {
    writeFileSync(join(dir, "rules.yml"), renderAlertRules());
    const t = DEFAULT_THRESHOLDS;
    const tests = {
      rule_files: ["rules.yml"],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            { series: 'up{job="node",instance="10.20.0.10:9100",env="private"}', values: "1x20" },
            { series: 'up{job="node",instance="10.30.0.10:9100",env="public",guest="public-gpu"}', values: "1 1 0x20" },
            { series: 'up{job="gpu",instance="10.30.0.10:9400",env="public",guest="public-gpu"}', values: "1 1 0x20" },
            { series: `DCGM_FI_DEV_GPU_TEMP{gpu="0",instance="10.20.0.10:9400"}`, values: `${t.gpuTemperatureC + 5}x20` },
            { series: `DCGM_FI_DEV_GPU_TEMP{gpu="0",instance="10.30.0.10:9400"}`, values: `${t.gpuTemperatureC - 20}x20` },
            { series: 'DCGM_FI_DEV_FB_USED{gpu="0",instance="10.20.0.10:9400"}', values: "31900x20" },
            { series: 'DCGM_FI_DEV_FB_FREE{gpu="0",instance="10.20.0.10:9400"}', values: "700x20" },
            // qwen2.5:32b expected and loaded fully; qwen2.5:14b expected but missing; mistral loaded half on the CPU.
            { series: 'ai_dualstack_ollama_model_expected{instance="10.20.0.10:9100",model="qwen2.5:32b"}', values: "1x20" },
            { series: 'ai_dualstack_ollama_model_expected{instance="10.20.0.10:9100",model="qwen2.5:14b"}', values: "1x20" },
            { series: 'ai_dualstack_ollama_model_loaded{instance="10.20.0.10:9100",model="qwen2.5:32b"}', values: "1x20" },
            { series: 'ai_dualstack_ollama_model_loaded{instance="10.20.0.10:9100",model="qwen2.5:14b"}', values: "0x20" },
            { series: 'ai_dualstack_ollama_model_vram_ratio{instance="10.20.0.10:9100",model="qwen2.5:32b"}', values: "1x20" },
            { series: 'ai_dualstack_ollama_model_loaded{instance="10.30.0.10:9100",model="mistral:7b"}', values: "1x20" },
            { series: 'ai_dualstack_ollama_model_vram_ratio{instance="10.30.0.10:9100",model="mistral:7b"}', values: "0.5x20" },
            // Backups: public's postgres last succeeded 30 h before the test's clock, private's one minute before.
            { series: 'ai_dualstack_backup_success{repository="public",source="postgres"}', values: "0x20" },
            { series: 'ai_dualstack_backup_last_success_timestamp_seconds{repository="public",source="postgres"}', values: `${-30 * 3600}x20` },
            { series: 'ai_dualstack_backup_success{repository="private",source="postgres"}', values: "1x20" },
            { series: 'ai_dualstack_backup_last_success_timestamp_seconds{repository="private",source="postgres"}', values: "0+60x20" },
            { series: 'ai_dualstack_restic_check_success{repository="public"}', values: "0x20" },
            { series: 'ai_dualstack_restic_check_timestamp_seconds{repository="public"}', values: "0+60x20" },
            { series: 'probe_ssl_earliest_cert_expiry{instance="10.10.0.10:8200"}', values: `${10 * 86400}x120` },
            // The discovery on the node: failing from the 5th minute on.
            { series: 'ai_dualstack_discovery_success{instance="192.168.10.2:9100"}', values: "1 1 1 1 1 0x30" },
            { series: 'ai_dualstack_discovery_timestamp_seconds{instance="192.168.10.2:9100"}', values: "0+60x4 240x30" },
            { series: 'probe_ssl_earliest_cert_expiry{instance="10.30.0.10:6333"}', values: `${300 * 86400}x120` },
          ],
          alert_rule_test: [
            { eval_time: "1m", alertname: "Watchdog", exp_alerts: [{ exp_labels: { severity: "none" }, exp_annotations: WATCHDOG }] },
            // A guest's node exporter gone: GuestDown (the guest); another job's target gone: TargetDown.
            { eval_time: "4m", alertname: "GuestDown", exp_alerts: [] },
            {
              eval_time: "6m",
              alertname: "GuestDown",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", job: "node", instance: "10.30.0.10:9100", env: "public", guest: "public-gpu" },
                  exp_annotations: {
                    summary: "guest public-gpu (public) is down",
                    description:
                      "Its node exporter has not answered for 3 minutes: the guest is stopped, hung or cut off. Other alerts about it are held back meanwhile.",
                  },
                },
              ],
            },
            {
              eval_time: "10m",
              alertname: "TargetDown",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", job: "gpu", instance: "10.30.0.10:9400", env: "public", guest: "public-gpu" },
                  exp_annotations: {
                    summary: "gpu target 10.30.0.10:9400 is down",
                    description: "Prometheus has not scraped 10.30.0.10:9400 (public) for 5 minutes.",
                  },
                },
              ],
            },
            { eval_time: "10m", alertname: "DiscoveryFailing", exp_alerts: [] },
            {
              eval_time: "16m",
              alertname: "DiscoveryFailing",
              exp_alerts: [
                {
                  exp_labels: { severity: "ticket", instance: "192.168.10.2:9100" },
                  exp_annotations: {
                    summary: "guest discovery on 192.168.10.2:9100 is failing",
                    description:
                      "The environments' scrape targets are no longer updated from the Proxmox API: see journalctl -u ai-dualstack-discovery on the node.",
                  },
                },
              ],
            },
            {
              eval_time: "15m",
              alertname: "GpuTemperatureHigh",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", gpu: "0", instance: "10.20.0.10:9400" },
                  exp_annotations: {
                    summary: `GPU 0 on 10.20.0.10:9400 at ${t.gpuTemperatureC + 5} °C`,
                    description: `Above ${t.gpuTemperatureC} °C for 10 minutes: check airflow and the power limit.`,
                  },
                },
              ],
            },
            {
              eval_time: "16m",
              alertname: "GpuVramNearlyFull",
              exp_alerts: [
                {
                  exp_labels: { severity: "ticket", gpu: "0", instance: "10.20.0.10:9400" },
                  exp_annotations: {
                    summary: "VRAM of GPU 0 on 10.20.0.10:9400 nearly full",
                    description: "A model load or a longer context may spill to the CPU.",
                  },
                },
              ],
            },
            { eval_time: "5m", alertname: "ModelNotLoaded", exp_alerts: [] },
            {
              eval_time: "15m",
              alertname: "ModelNotLoaded",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", instance: "10.20.0.10:9100", model: "qwen2.5:14b" },
                  exp_annotations: {
                    summary: "qwen2.5:14b is not loaded on 10.20.0.10:9100",
                    description: "The model is deployed warm (keep-alive) but Ollama does not hold it.",
                  },
                },
              ],
            },
            {
              eval_time: "10m",
              alertname: "ModelOnCpu",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", instance: "10.30.0.10:9100", model: "mistral:7b" },
                  exp_annotations: {
                    summary: "mistral:7b runs partly on the CPU on 10.30.0.10:9100",
                    description: "Only 50% of the model is in VRAM: decode speed drops by an order of magnitude.",
                  },
                },
              ],
            },
            {
              eval_time: "1m",
              alertname: "BackupFailed",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", repository: "public", source: "postgres" },
                  exp_annotations: {
                    summary: "backup of postgres (public) failed",
                    description: "The last run of the restic backup failed; the previous snapshot is still the latest.",
                  },
                },
              ],
            },
            {
              eval_time: "1m",
              alertname: "BackupTooOld",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", repository: "public", source: "postgres" },
                  exp_annotations: { summary: "backup of postgres (public) is 1d 6h 1m 0s old", description: "Older than its daily schedule allows (26 h)." },
                },
              ],
            },
            {
              eval_time: "1m",
              alertname: "ResticCheckFailed",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", repository: "public" },
                  exp_annotations: {
                    summary: "restic check of public failed",
                    description: "The repository's structure or data did not verify: do not prune; investigate before the next backup.",
                  },
                },
              ],
            },
            { eval_time: "1m", alertname: "ResticCheckTooOld", exp_alerts: [] },
            { eval_time: "30m", alertname: "CertificateExpiringSoon", exp_alerts: [] },
            {
              eval_time: "90m",
              alertname: "CertificateExpiringSoon",
              exp_alerts: [
                {
                  exp_labels: { severity: "ticket", instance: "10.10.0.10:8200" },
                  exp_annotations: {
                    summary: "the certificate of 10.10.0.10:8200 expires in 9d 22h 30m 0s",
                    description: "Run pulumi up: certificates are re-issued from 30 days before expiry.",
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, "tests.yml"), stringify(tests));
    const r = promtool(["test", "rules", "tests.yml"]);
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it("the rule tests can fail: a threshold moved above the series stops GpuTemperatureHigh", () => {
    writeFileSync(join(dir, "rules.yml"), renderAlertRules({ ...DEFAULT_THRESHOLDS, gpuTemperatureC: 120 }));
    writeFileSync(
      join(dir, "tests.yml"),
      stringify({
        rule_files: ["rules.yml"],
        tests: [
          {
            interval: "1m",
            input_series: [{ series: 'DCGM_FI_DEV_GPU_TEMP{gpu="0",instance="a"}', values: "90x20" }],
            alert_rule_test: [
              { eval_time: "15m", alertname: "GpuTemperatureHigh", exp_alerts: [{ exp_labels: { severity: "page", gpu: "0", instance: "a" } }] },
            ],
          },
        ],
      }),
    );
    expect(promtool(["test", "rules", "tests.yml"]).code).not.toBe(0);
  });
});

describe("Ollama model probe", () => {
  let ollama: FakeOllama | undefined;
  afterEach(async () => {
    await ollama?.close();
    ollama = undefined;
  });

  // Asynchronous: the Ollama stand-in answers from this process's event loop.
  const probe = async (url: string, expected: string[]) => {
    const metricsDir = join(dir, "textfile");
    mkdirSync(metricsDir, { recursive: true });
    const { code, stderr: err } = await run("bash", ["-c", renderOllamaProbeScript({ url, expected, metricsDir })]);
    return {
      code,
      err,
      text: (() => {
        try {
          return readFileSync(join(metricsDir, "ollama.prom"), "utf8");
        } catch {
          return "";
        }
      })(),
    };
  };

  it("reports loaded and expected models and their VRAM share, in a format promtool accepts", async () => {
    ollama = await startFakeOllama({ vramFraction: 0.5 });
    ollama.models.set("mistral:7b", { size: 4_000_000_000 } as any);
    ollama.loaded.add("mistral:7b");
    const r = await probe(ollama.url, ["mistral:7b", "qwen2.5:14b"]);
    expect(r.code, r.err).toBe(0);
    expect(r.text).toContain("ai_dualstack_ollama_up 1\n");
    expect(r.text).toContain('ai_dualstack_ollama_model_expected{model="qwen2.5:14b"} 1\n');
    expect(r.text).toContain('ai_dualstack_ollama_model_loaded{model="mistral:7b"} 1\n');
    expect(r.text).toContain('ai_dualstack_ollama_model_loaded{model="qwen2.5:14b"} 0\n');
    expect(r.text).toContain('ai_dualstack_ollama_model_vram_ratio{model="mistral:7b"} 0.5\n');
    const check = promtool(["check", "metrics"], r.text);
    expect(check.out).not.toMatch(/error/i);
    expect(check.code).toBe(0);
  });

  it("says Ollama is down when the API does not answer, and still lists the expected models as not loaded", async () => {
    const r = await probe("http://127.0.0.1:9", ["mistral:7b"]);
    expect(r.code).toBe(0);
    expect(r.text).toContain("ai_dualstack_ollama_up 0\n");
    expect(r.text).toContain('ai_dualstack_ollama_model_loaded{model="mistral:7b"} 0\n');
    expect(promtool(["check", "metrics"], r.text).code).toBe(0);
  });

  it("refuses unsafe input", () => {
    expect(() => renderOllamaProbeScript({ url: "http://x;rm -rf /", expected: [], metricsDir: "/x" })).toThrow(/invalid url/);
    expect(() => renderOllamaProbeScript({ url: "http://x:1", expected: ["a'b"], metricsDir: "/x" })).toThrow(/invalid model/);
  });
});

describe("monitoring install script", () => {
  it("writes the configuration, rules, targets, CA bundle, Loki, the log gateway and Grafana; checks them; restarts only on change", async () => {
    const { monitoringBundle, renderMonitoringInstallScript } = await import("../../lib/monitoring/server");
    const { pemBlock, stubTool } = await import("../helpers/script-stubs");
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    writeFileSync(log, "");
    for (const s of ["apt-get", "apt-mark", "systemctl", "chown", "loki", "caddy", "curl", "gpg"]) stubTool(bin, log, s, "");
    // Installed, at the pinned versions: nothing to install.
    stubTool(
      bin,
      log,
      "dpkg-query",
      'case "$*" in *Version*grafana*) echo -n 13.2.2 ;; *Version*loki*) echo -n 3.7.8 ;; *) echo -n "install ok installed" ;; esac',
    );
    const root = join(dir, "root");
    const script = renderMonitoringInstallScript({
      ...layout,
      ip: "10.10.0.12",
      dataDir: "/var/lib/monitoring",
      logRetention: "31d",
      versions: { grafana: "13.2.2", loki: "3.7.8" },
      aptKeyFingerprints: ["B53AE77BADB630A683046005963FA27710458545"],
      targets: { "node-platform": [{ targets: ["10.10.0.10:9100"], labels: { env: "platform", stack: "host", service: "vault" } }] },
    });
    const stdin = monitoringBundle({
      grafanaPassword: "grafana-admin-secret",
      grafana: { keyPem: pemBlock("PRIVATE KEY", "grafana-key"), certPem: pemBlock("CERTIFICATE", "grafana-cert") },
      logGateway: { keyPem: pemBlock("PRIVATE KEY", "gateway-key"), certPem: pemBlock("CERTIFICATE", "gateway-cert") },
      caCerts: [pemBlock("CERTIFICATE", "platform-ca"), pemBlock("CERTIFICATE", "private-ca")],
    });
    const run = () => spawnSync("bash", ["-c", script], { input: stdin, encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root } });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const calls = readFileSync(log, "utf8");
    for (const unit of ["prometheus", "loki", "caddy", "grafana-server"]) expect(calls).toContain(`systemctl restart ${unit}\n`);
    expect(calls).not.toContain("apt-get install");
    expect(calls).toContain("loki -config.file=");
    expect(calls).toContain("caddy validate --adapter caddyfile");
    expect(JSON.parse(readFileSync(join(root, "etc/prometheus/targets/node-platform.json"), "utf8"))[0].labels.service).toBe("vault");
    // The blackbox exporter trusts the CAs only (not the services' own certificates).
    expect(readFileSync(join(root, "etc/ssl/ai-dualstack/cas.pem"), "utf8")).toBe(
      pemBlock("CERTIFICATE", "platform-ca") + pemBlock("CERTIFICATE", "private-ca"),
    );
    expect(readFileSync(join(root, "etc/grafana/tls/grafana.key"), "utf8")).toBe(pemBlock("PRIVATE KEY", "grafana-key"));
    expect(readFileSync(join(root, "etc/caddy/tls/logs.crt"), "utf8")).toBe(pemBlock("CERTIFICATE", "gateway-cert"));
    expect(readFileSync(join(root, "etc/grafana/admin-password"), "utf8")).toBe("grafana-admin-secret");
    expect(statSync(join(root, "etc/grafana/admin-password")).mode & 0o777).toBe(0o640);
    expect(script).not.toContain("grafana-admin-secret");
    expect(readFileSync(join(root, "etc/default/prometheus"), "utf8")).toContain("--storage.tsdb.retention.time=30d");
    expect(readFileSync(join(root, "etc/loki/config.yml"), "utf8")).toContain("retention_period: 744h");
    expect(readdirSync(join(root, "var/lib/grafana-dashboards/ai-dualstack")).sort()).toEqual([
      "ai-dualstack-backups.json",
      "ai-dualstack-gpus.json",
      "ai-dualstack-host.json",
      "ai-dualstack-logs.json",
      "ai-dualstack-models.json",
    ]);
    // promtool checks the written file (the rules glob is absolute, so it finds none in this root).
    expect(promtool(["check", "config", join(root, "etc/prometheus/prometheus.yml")]).code).toBe(0);
    writeFileSync(log, "");
    expect(run().status).toBe(0);
    expect(readFileSync(log, "utf8")).toContain("systemctl start prometheus\n");
    expect(readFileSync(log, "utf8")).not.toContain("systemctl restart");
  });

  it("refuses a bundle without the certificates, before writing anything", async () => {
    const { renderMonitoringInstallScript } = await import("../../lib/monitoring/server");
    const { stdinBundle } = await import("../../lib/shell");
    const root = join(dir, "root");
    const script = renderMonitoringInstallScript({
      ...layout,
      ip: "10.10.0.12",
      dataDir: "/d",
      logRetention: "31d",
      versions: { grafana: "1.0.0", loki: "1.0.0" },
      aptKeyFingerprints: ["B53AE77BADB630A683046005963FA27710458545"],
      targets: {},
    });
    const r = spawnSync("bash", ["-c", script], {
      input: stdinBundle({ secretLine: "pw", pems: [] }),
      encoding: "utf8",
      env: { PATH: process.env.PATH, ROOT: root },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("PRIVATE KEY 1 is missing");
    expect(existsSync(join(root, "etc"))).toBe(false);
  });
});
