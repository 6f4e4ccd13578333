// Loki for real (scripts/loki.sh builds it): the configuration the program renders passes Loki's own check and
// runs; behind the real caddy running the log gateway, a push on an environment's port lands in that environment's
// tenant only, and Grafana's multi-tenant data source sees every tenant; every log query of the dashboards passes
// Loki's parser.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARDS, isLogQuery } from "../../lib/monitoring/dashboards";
import { LOG_TENANTS, LOKI_PUSH_PATH, renderLogGatewayCaddyfile, renderLokiConfig } from "../../lib/monitoring/loki";
import { startCaddy } from "../helpers/caddy";
import { lokiBinary, startLoki, type RunningLoki } from "../helpers/loki";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { freePort } from "../helpers/servers";

let dir: string;
let loki: RunningLoki;
let ca: TestCa;
let ports: Record<(typeof LOG_TENANTS)[number], number>;
let stopCaddy: () => Promise<void>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "loki-"));
  loki = await startLoki(dir);
  ca = makeTestCa("test platform CA");
  const cert = ca.issue("log-gateway", { ip: ["127.0.0.1"] });
  writeFileSync(join(dir, "logs.crt"), cert.certPem);
  writeFileSync(join(dir, "logs.key"), cert.keyPem, { mode: 0o600 });
  ports = { platform: await freePort(), private: await freePort(), public: await freePort() };
  stopCaddy = await startCaddy(
    dir,
    renderLogGatewayCaddyfile({ ip: "127.0.0.1", certFile: join(dir, "logs.crt"), keyFile: join(dir, "logs.key"), upstream: new URL(loki.url).host }, ports),
    Object.values(ports),
  );
}, 90_000);

afterAll(async () => {
  await stopCaddy?.();
  await loki?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const push = (port: number, line: string, labels: Record<string, string>, claimedTenant?: string) =>
  new Promise<number>((resolve, reject) => {
    const body = JSON.stringify({ streams: [{ stream: labels, values: [[`${Date.now()}000000`, line]] }] });
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: LOKI_PUSH_PATH,
        ca: ca.certPem,
        headers: { "content-type": "application/json", ...(claimedTenant ? { "X-Scope-OrgID": claimedTenant } : {}) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });

async function query(tenant: string, logql: string): Promise<{ status: number; lines: { tenant?: string; line: string }[]; error: string }> {
  const url = `${loki.url}/loki/api/v1/query_range?${new URLSearchParams({ query: logql, since: "1h", limit: "100" })}`;
  const res = await fetch(url, { headers: { "X-Scope-OrgID": tenant } });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, lines: [], error: text };
  const data = JSON.parse(text).data;
  const lines =
    data.resultType === "streams"
      ? data.result.flatMap((s: { stream: Record<string, string>; values: [string, string][] }) =>
          s.values.map(([, line]) => ({ tenant: s.stream.__tenant_id__, line })),
        )
      : [];
  return { status: 200, lines, error: "" };
}

describe("Loki (real)", () => {
  it("accepts the rendered configuration (loki -verify-config), and refuses a broken one", () => {
    writeFileSync(join(dir, "as-rendered.yml"), renderLokiConfig({ dataDir: join(dir, "verify"), retention: "31d" }));
    const ok = spawnSync(lokiBinary(), [`-config.file=${join(dir, "as-rendered.yml")}`, "-verify-config"], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    writeFileSync(join(dir, "broken.yml"), renderLokiConfig({ dataDir: join(dir, "verify"), retention: "31d" }).replace("schema: v13", "schema: v99"));
    expect(spawnSync(lokiBinary(), [`-config.file=${join(dir, "broken.yml")}`, "-verify-config"]).status).not.toBe(0);
  });

  it("a push through an environment's gateway port lands in that tenant only, whatever tenant the client claims", async () => {
    expect(await push(ports.private, "private secret line", { env: "private", host: "private-gpu", job: "journal" })).toBe(204);
    expect(await push(ports.public, "public line claiming to be private", { env: "private", host: "public-gpu", job: "journal" }, "private")).toBe(204);
    let priv: Awaited<ReturnType<typeof query>> = { status: 0, lines: [], error: "" };
    for (let i = 0; i < 20 && priv.lines.length < 1; i++) {
      await new Promise((r) => setTimeout(r, 250));
      priv = await query("private", '{job="journal"}');
    }
    expect(priv.lines.map((l) => l.line)).toEqual(["private secret line"]);
    expect((await query("public", '{job="journal"}')).lines.map((l) => l.line)).toEqual(["public line claiming to be private"]);
    // Grafana's data source asks for every tenant at once and sees both, each with its tenant.
    const all = await query(LOG_TENANTS.join("|"), '{job="journal"}');
    expect(all.lines.map((l) => `${l.tenant}: ${l.line}`).sort()).toEqual(["private: private secret line", "public: public line claiming to be private"]);
  });

  it("every log query of the dashboards passes Loki's parser; a broken one does not", async () => {
    const queries = DASHBOARDS.flatMap((d) => d.panels.flatMap((p) => p.queries))
      .filter((q) => isLogQuery(q.expr))
      .map((q) => q.expr.replaceAll("$env", ".*").replaceAll("$__auto", "1m"));
    expect(queries.length).toBeGreaterThanOrEqual(4);
    for (const q of queries) {
      const r = await query(LOG_TENANTS.join("|"), q);
      expect(r.status, `${q}: ${r.error}`).toBe(200);
    }
    expect((await query("private", '{job="journal"')).status).toBe(400);
    expect((await query("private", '{env=~".*"}')).status).toBe(400); // no matcher that excludes the empty string
  });
});
