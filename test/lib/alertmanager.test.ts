// Alertmanager's configuration through the real tools (Debian's prometheus-alertmanager 0.25): amtool checks it and
// says where each alert goes; then an alert fired by the real Prometheus with the real rules reaches a webhook the
// test runs on loopback over TLS, through the real Alertmanager, with its environment and severity labels, while a
// down guest holds back the other alerts about it and the watchdog pings the heartbeat.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertsSchema, type AlertsConfig } from "../../lib/config/alerts";
import { ALERTMANAGER_CONFIG, alertEgress, alertSecretProblems, renderAlertmanagerConfig, renderAlertmanagerScript } from "../../lib/monitoring/alertmanager";
import { stubTool } from "../helpers/script-stubs";
import { renderAlertRules } from "../../lib/monitoring/prometheus";
import { makeTestCa } from "../helpers/pki";
import { answers, startProcess, tool, type Started } from "../helpers/process";
import { startPrometheus, type RunningPrometheus } from "../helpers/prometheus";
import { freePort } from "../helpers/servers";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "alertmanager-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alerts = (raw: unknown): AlertsConfig => alertsSchema.parse(raw);
const SECRETS = {
  smtpPassword: "smtp-secret",
  webhookUrl: "https://hooks.example.org/t/SECRET-TOKEN",
  heartbeatUrl: "https://hc-ping.example.org/SECRET-UUID",
};
const FULL = {
  email: { to: ["ops@example.org", "oncall@example.org"], from: "alertmanager@example.org", smarthost: "smtp.example.org:587", username: "alertmanager" },
  webhook: { origin: "https://hooks.example.org" },
  heartbeat: { origin: "https://hc-ping.example.org", interval: "2m" },
  ticket: ["email"],
  environments: { public: { page: ["webhook"] } },
};

function amtool(args: string[], config: string) {
  const file = join(dir, `am-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, config);
  // check-config takes the file as its argument; the other commands as a flag.
  const r = spawnSync(tool("amtool"), [...args, args[0] === "check-config" ? file : `--config.file=${file}`], { encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim(), stdout: r.stdout.trim() };
}
const routeOf = (config: string, ...labels: string[]) => amtool(["config", "routes", "test", ...labels], config).stdout;

describe("the rendered configuration", () => {
  it("passes amtool check-config with no receivers, with e-mail only, and with everything; a broken one does not", () => {
    for (const a of [alerts({}), alerts({ email: { to: ["ops@example.org"], from: "am@example.org", smarthost: "smtp.example.org:465" } }), alerts(FULL)]) {
      const r = amtool(["check-config"], renderAlertmanagerConfig(a, SECRETS));
      expect(r.code, r.out).toBe(0);
    }
    expect(amtool(["check-config"], renderAlertmanagerConfig(alerts(FULL), SECRETS).replace("receiver: nobody", "receiver: nobody-there")).code).not.toBe(0);
  });

  it("routes by severity and environment, the watchdog only to the heartbeat (amtool config routes test)", () => {
    const config = renderAlertmanagerConfig(alerts(FULL), SECRETS);
    expect(routeOf(config, "severity=page", "env=private", "guest=private-gpu")).toBe("email+webhook");
    expect(routeOf(config, "severity=page", "env=public", "guest=public-gpu")).toBe("webhook");
    expect(routeOf(config, "severity=ticket", "env=public")).toBe("email");
    expect(routeOf(config, "alertname=Watchdog", "severity=none")).toBe("heartbeat");
    // Without receivers everything lands nowhere (and the program warns at preview).
    expect(routeOf(renderAlertmanagerConfig(alerts({}), {}), "severity=page")).toBe("nobody");
  });

  it("sends e-mail over TLS only, and names its secrets only in the file itself", () => {
    const config = renderAlertmanagerConfig(alerts(FULL), SECRETS);
    expect(config).toContain("smtp_require_tls: true");
    expect(renderAlertmanagerConfig(alerts({ email: { ...FULL.email, smarthost: "smtp.example.org:465" } }), SECRETS)).toContain("smtp_require_tls: false");
    expect(() => renderAlertmanagerConfig(alerts(FULL), {})).toThrow("needs its secret config");
  });

  it("checks the secret URLs against their origins without showing them, and declares the receivers' egress", () => {
    expect(alertSecretProblems(alerts(FULL), SECRETS)).toEqual([]);
    const wrong = alertSecretProblems(alerts(FULL), { ...SECRETS, webhookUrl: "https://evil.example.org/hooks.example.org/SECRET-TOKEN" });
    expect(wrong).toEqual([
      "ai-dualstack:alertWebhookUrl: expected a URL starting with https://hooks.example.org (the origin in platform.monitoring.alerts), got another URL",
    ]);
    expect(wrong.join("")).not.toContain("SECRET");
    expect(alertEgress(alerts(FULL), "platform-monitoring").map((e) => `${e.hosts.join(",")}:${e.port}`)).toEqual([
      "smtp.example.org:587",
      "hooks.example.org:443",
      "hc-ping.example.org:443",
    ]);
  });
});

describe("the install step (real amtool, systemctl stubbed, on a fake root)", () => {
  it("writes the file for Alertmanager only, restarts on change only, and keeps the old file when amtool refuses the new one", () => {
    const root = join(dir, "root");
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const log = join(dir, "am-calls.log");
    for (const t of ["systemctl", "chown"]) stubTool(bin, log, t);
    const run = (input: string) =>
      spawnSync("bash", ["-c", renderAlertmanagerScript("/var/lib/monitoring")], {
        input,
        encoding: "utf8",
        env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root },
      });
    const config = renderAlertmanagerConfig(alerts(FULL), SECRETS);
    const first = run(config);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("alertmanager: configuration changed, restarted");
    expect(readFileSync(join(root, ALERTMANAGER_CONFIG), "utf8")).toBe(config);
    expect((statSync(join(root, ALERTMANAGER_CONFIG)).mode & 0o777).toString(8)).toBe("640");
    expect(readFileSync(log, "utf8")).toContain("chown root:prometheus /");
    expect(readFileSync(join(root, "etc/default/prometheus-alertmanager"), "utf8")).toContain(
      "--config.file=/etc/prometheus/alertmanager.yml --storage.path=/var/lib/monitoring/alertmanager",
    );
    expect(run(config).stdout).toContain("alertmanager: unchanged");
    const refused = run(config.replace("receiver: nobody", "receiver: nobody-there"));
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain("does not pass amtool check-config");
    expect(readFileSync(join(root, ALERTMANAGER_CONFIG), "utf8")).toBe(config);
  });
});

describe("a fired alert reaches the webhook (real Prometheus, real Alertmanager)", () => {
  interface Delivery {
    path: string;
    body: { receiver: string; status: string; alerts: { labels: Record<string, string> }[] };
  }
  const deliveries: Delivery[] = [];
  let webhook: Server;
  let am: Started;
  let prom: RunningPrometheus;
  let amUrl: string;

  beforeAll(async () => {
    const ca = makeTestCa("alert test CA");
    const cert = ca.issue("webhook", { ip: ["127.0.0.1"] });
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    webhook = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        deliveries.push({ path: req.url ?? "", body: JSON.parse(body) });
        res.end("ok");
      });
    });
    const hookPort = await freePort();
    await new Promise<void>((resolve) => webhook.listen(hookPort, "127.0.0.1", resolve));
    const origin = `https://127.0.0.1:${hookPort}`;
    const a = alerts({ webhook: { origin }, heartbeat: { origin, interval: "1m" }, environments: { private: { ticket: ["webhook"] } } });
    writeFileSync(join(dir, "alertmanager.yml"), renderAlertmanagerConfig(a, { webhookUrl: `${origin}/hook/TOKEN`, heartbeatUrl: `${origin}/ping/UUID` }));
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    // Go reads its trusted roots from SSL_CERT_FILE: Alertmanager trusts the test's CA as it would a public one.
    am = await startProcess(
      "prometheus-alertmanager",
      [
        `--config.file=${join(dir, "alertmanager.yml")}`,
        `--storage.path=${join(dir, "am-data")}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        "--cluster.listen-address=",
      ],
      { ready: () => answers(`${amUrl}/-/ready`, { status: 200 }), env: { PATH: process.env.PATH, SSL_CERT_FILE: join(dir, "ca.pem") } },
    );
    // The program's rules (Watchdog among them) and two made to fire at once: a guest down, and a symptom on it and on another guest.
    writeFileSync(join(dir, "rules.yml"), renderAlertRules());
    writeFileSync(
      join(dir, "test-rules.yml"),
      JSON.stringify({
        groups: [
          {
            name: "test",
            rules: [
              { alert: "GuestDown", expr: 'up{job="node"} == 0', labels: { severity: "page" } },
              { alert: "ExporterGone", expr: 'up{job="gpu"} == 0', labels: { severity: "ticket" } },
            ],
          },
        ],
      }),
    );
    const closed = [await freePort(), await freePort()];
    prom = await startPrometheus(
      dir,
      {
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [join(dir, "rules.yml"), join(dir, "test-rules.yml")],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [
          { job_name: "node", static_configs: [{ targets: [`127.0.0.1:${closed[0]}`], labels: { env: "public", guest: "public-gpu" } }] },
          {
            job_name: "gpu",
            static_configs: [
              { targets: [`127.0.0.1:${closed[1]}`], labels: { env: "public", guest: "public-gpu" } },
              { targets: [`localhost:${closed[1]}`], labels: { env: "private", guest: "private-gpu" } },
            ],
          },
        ],
        // An alert that fired before Prometheus found Alertmanager is sent again after this delay (default 1 min).
      },
      ["--rules.alert.resend-delay=2s"],
    );
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await am?.stop();
    webhook?.close();
  });

  const waitFor = async (what: string, ok: () => boolean, seconds: number) => {
    for (let i = 0; i < seconds * 2 && !ok(); i++) await new Promise((r) => setTimeout(r, 500));
    if (!ok())
      throw new Error(
        `${what} not within ${seconds} s; alertmanager holds ${JSON.stringify(await (await fetch(`${amUrl}/api/v2/alerts`)).json())}; delivered: ${JSON.stringify(deliveries.map((d) => [d.path, d.body.alerts.map((x) => x.labels)]))}\n${am.output()}`,
      );
  };
  const delivered = (path: string, alertname: string, guest?: string) =>
    deliveries
      .filter((d) => d.path === path)
      .flatMap((d) => d.body.alerts.map((x) => x.labels))
      .filter((l) => l.alertname === alertname && (!guest || l.guest === guest));

  it("the watchdog pings the heartbeat URL at once", async () => {
    await waitFor("the watchdog's ping", () => delivered("/ping/UUID", "Watchdog").length > 0, 30);
    expect(delivered("/hook/TOKEN", "Watchdog")).toEqual([]);
  }, 40_000);

  it("a down guest's alert arrives with its environment and severity; its symptoms are held back, another guest's are not", async () => {
    // Alertmanager waits group_wait (30 s) before a group's first notification.
    await waitFor(
      "GuestDown and the other guest's alert",
      () => delivered("/hook/TOKEN", "GuestDown").length > 0 && delivered("/hook/TOKEN", "ExporterGone", "private-gpu").length > 0,
      60,
    );
    expect(delivered("/hook/TOKEN", "GuestDown")[0]).toMatchObject({
      alertname: "GuestDown",
      env: "public",
      guest: "public-gpu",
      severity: "page",
      job: "node",
    });
    expect(delivered("/hook/TOKEN", "ExporterGone", "private-gpu")[0]).toMatchObject({ env: "private", severity: "ticket" });
    const res = await fetch(`${amUrl}/api/v2/alerts?filter=alertname%3D%22ExporterGone%22&filter=guest%3D%22public-gpu%22`);
    const [held] = (await res.json()) as { status: { inhibitedBy: string[]; state: string } }[];
    expect(held.status.state).toBe("suppressed");
    expect(held.status.inhibitedBy.length).toBe(1);
    expect(delivered("/hook/TOKEN", "ExporterGone", "public-gpu")).toEqual([]);
  }, 70_000);
});
