// The service catalog through the offline engine: each tier enabled at once in each environment (with what it
// depends on) plans, passes every policy, fits the capacity planner, and every entry comes out wired — its
// containers, database, Redis user, Vault record, backups and monitoring. The every-tier examples plan too.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { CATALOG } from "../../lib/catalog/index";
import { renderCatalogTable, type EntryPlan } from "../../lib/catalog/resolve";
import type { CapacityReport } from "../../lib/capacity/report";
import { evaluateStack, type PlanResult, type PlannedResource } from "../../ops/engine";
import { runPolicies } from "../../ops/policy-runner";
import { TIERS, everyTier, tierConfigFile } from "../helpers/catalog-tiers";
import { dummySecrets } from "../helpers/config";

const ROOT = resolve(__dirname, "../..");
type Env = "private" | "public" | "host";
const plans = new Map<string, PlanResult>();
const planOf = (env: Env, tier: 1 | 2 | 3) => plans.get(`${env}-${tier}`)!;

beforeAll(async () => {
  const host = await evaluateStack("host", { configFile: tierConfigFile("host", [2]), secrets: dummySecrets("host") });
  plans.set("host-2", host);
  for (const env of ["private", "public"] as const) {
    for (const tier of [1, 2, 3] as const)
      plans.set(`${env}-${tier}`, await evaluateStack(env, { configFile: tierConfigFile(env, [tier]), host, secrets: dummySecrets(env) }));
  }
}, 600_000);

const containers = (plan: PlanResult) => plan.resources.filter((r) => r.type === "docker:index/container:Container");
const script = (plan: PlanResult, suffix: string) =>
  String(plan.resources.find((r) => r.type === "command:remote:Command" && r.name.endsWith(suffix))?.inputs.create ?? "");
const entriesOf = (env: Env, tier: 1 | 2 | 3) => Object.keys(TIERS[env][tier]);

describe("every tier of the catalog, enabled at once per environment", () => {
  const cases = [...(["private", "public"] as const).flatMap((env) => ([1, 2, 3] as const).map((tier) => [env, tier] as const)), ["host", 2] as const];

  it.each(cases)("%s tier %s plans with every policy passing", async (env, tier) => {
    const violations = await runPolicies(planOf(env, tier));
    expect(violations.map((v) => `${v.policy}: ${v.message}`)).toEqual([]);
  });

  it.each(cases.filter(([env]) => env !== "host"))("%s tier %s fits the capacity planner (GPU and the VM's memory)", (env, tier) => {
    const report = planOf(env, tier).outputs.capacity.value as CapacityReport;
    expect(report.memory?.fits, JSON.stringify(report.memory)).toBe(true);
    expect(report.fits).toBe(true);
    if (TIERS[env][tier].vllm) {
      expect(report.runtime).toBe("vllm");
      expect(report.vllm!.kvTokens).toBeGreaterThanOrEqual(8192);
    }
  });

  it("covers every catalog entry in the environments it belongs to", () => {
    for (const e of CATALOG) {
      for (const env of e.environments)
        expect(
          [1, 2, 3].some((t) => e.key in TIERS[env][t as 1 | 2 | 3]),
          `${e.key} in ${env}`,
        ).toBe(true);
    }
  });
});

describe("each entry's wiring", () => {
  const cases = (["private", "public", "host"] as const).flatMap((env) =>
    ([1, 2, 3] as const).flatMap((tier) => entriesOf(env, tier).map((key) => [env, tier, key] as const)),
  );

  it.each(cases)("%s tier %s: %s runs, with its health, limits, backups and monitoring", (env, tier, key) => {
    const plan = planOf(env, tier);
    const names = containers(plan).map((c) => c.name);
    const rendered = entryServices(plan, key);
    expect(rendered.length, `${key}'s containers in ${names.join(", ")}`).toBeGreaterThan(0);
    for (const c of rendered) {
      expect(c.inputs.memory, `${c.name} memory limit`).toBeGreaterThan(0);
      expect(c.inputs.securityOpts).toEqual(["no-new-privileges:true"]);
      // Every port a catalog container publishes is bound to its guest's own address, never 0.0.0.0.
      for (const p of (c.inputs.ports as { ip: string }[] | undefined) ?? []) expect(p.ip).toMatch(/^10\.\d+\.0\.\d+$/);
    }
    // Backups: its volumes are streamed into the restic repository; monitoring: the service probe covers the project.
    const restic = script(plan, env === "host" ? "-cicd-restic" : "-gpu-vm-restic");
    const volumes = plan.resources.filter((r) => r.type === "docker:index/volume:Volume").map((r) => String(r.inputs.name));
    for (const v of volumes) expect(restic).toContain(`volume-${v.split("_").slice(1).join("_")}`);
    for (const v of volumes) expect(plan.resources.find((r) => r.inputs.name === v)!.options).toMatchObject({ protect: true, retainOnDelete: true });
    const telemetry = script(plan, env === "host" ? "-cicd-telemetry" : "-gpu-vm-telemetry");
    expect(telemetry).toContain("ai-dualstack-service-probe.timer");
    expect(telemetry).toContain(`label=com.docker.compose.project=${env === "host" ? "cicd" : env}`);
  });

  it("every database and Redis user a service asked for is created in its environment's data services, kept on delete", () => {
    const pgResources = planOf("private", 2).resources.filter((r) => r.type === "pulumi-nodejs:dynamic/postgres:Tenant");
    const pg = pgResources.map((r) => r.inputs);
    expect(pg.map((p) => p.database).sort()).toEqual(["svc_langfuse", "svc_prefect", "svc_rag"]);
    for (const p of pg) expect(p).toMatchObject({ onDelete: "retain", adoptExisting: true, admin: { host: "10.20.0.21", port: 5432 } });
    // A service removed from the config leaves its data where it is.
    for (const r of pgResources) expect(r.options.retainOnDelete).toBe(true);
    const redis = planOf("private", 2)
      .resources.filter((r) => r.type === "pulumi-nodejs:dynamic/redis:Tenant")
      .map((r) => r.inputs);
    expect(redis.map((r) => [r.user, r.keyPattern])).toEqual([["svc-worker-ingest", "svc:worker-ingest:*"]]);
    expect(
      planOf("public", 2)
        .resources.filter((r) => r.type === "pulumi-nodejs:dynamic/postgres:Tenant")
        .map((r) => r.inputs.database)
        .sort(),
    ).toEqual(["svc_keycloak", "svc_langfuse", "svc_prefect", "tenant_acme", "tenant_globex"]);
  });

  it("every entry's credentials go to Vault under catalog/<entry>, as secrets", () => {
    const plan = planOf("private", 2);
    const paths = plan.resources
      .filter((r) => r.type === "pulumi-nodejs:dynamic/vault:KvSecret")
      .map((r) => String(r.inputs.path))
      .filter((p) => p.startsWith("catalog/"));
    expect(paths.sort()).toEqual([
      "catalog/jupyter",
      "catalog/langfuse",
      "catalog/minio",
      "catalog/prefect",
      "catalog/rag",
      "catalog/unstructured",
      "catalog/workers",
    ]);
  });

  it("the services the operators reach get a gateway port with their own certificate; public sites go through the ingress", () => {
    const gateway = containers(planOf("private", 1)).find((c) => c.name.endsWith("-gateway"))!;
    const caddyfile = String((gateway.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/etc/caddy/Caddyfile")!.content);
    expect(caddyfile).toContain("https://:8001 {");
    expect(caddyfile).toContain("reverse_proxy vllm:8000");
    expect(caddyfile).toContain("reverse_proxy langflow:7860");
    expect(caddyfile).toContain("reverse_proxy app-docs-api:8000");
    const ingress = containers(planOf("public", 3)).find((c) => c.name.endsWith("-ingress"))!;
    const sites = String((ingress.inputs.uploads as { file: string; content: string }[])[0].content);
    expect(sites).toContain("https://agent.example.org {");
    expect(sites).toContain("forward_auth oauth2-proxy:4180");
    expect(sites).toContain("email ops@example.org");
    expect(sites).not.toContain("tls internal");
    expect(sites).toContain("respond /admin/* 404");
  });

  it.each([1, 2, 3] as const)("public tier %s: every service the ingress proxies to shares its network", (tier) => {
    const cs = containers(planOf("public", tier));
    const ingress = cs.find((c) => c.name.endsWith("-ingress"))!;
    const text = String((ingress.inputs.uploads as { content: string }[])[0].content);
    const upstreams = [...text.matchAll(/(?:reverse_proxy|forward_auth) ([a-z0-9-]+):\d+/g)].map((m) => m[1]);
    expect(upstreams.length).toBeGreaterThan(1);
    for (const u of new Set(upstreams)) {
      const c = cs.find((x) => x.name.endsWith(`-services-${u}`));
      expect(
        (c?.inputs.networksAdvanced as { name: string }[] | undefined)?.map((n) => n.name),
        u,
      ).toContain("public_edge");
    }
  });

  it("with vLLM on the GPU, Ollama's container gets none", () => {
    const gpus = (plan: PlanResult, service: string) => containers(plan).find((c) => c.name.endsWith(`-${service}`))?.inputs.gpus;
    expect(gpus(planOf("private", 1), "vllm")).toBe("all");
    expect(gpus(planOf("private", 1), "ollama")).toBeUndefined();
    expect(gpus(planOf("private", 2), "ollama")).toBe("all");
    expect(gpus(planOf("private", 2), "jupyter")).toBe("all");
  });
});

describe("the every-tier examples", () => {
  it.each(["host", "private", "public"] as const)(
    "examples/catalog/Pulumi.%s.yaml is what the tiers make, and plans clean",
    async (stack) => {
      const file = join(ROOT, "examples/catalog", `Pulumi.${stack}.yaml`);
      expect(parse(readFileSync(file, "utf8"))).toEqual(everyTier(stack));
      const plan = await evaluateStack(stack, { configFile: file, secrets: dummySecrets(stack) });
      expect((await runPolicies(plan)).filter((v) => v.enforcement === "mandatory")).toEqual([]);
      const env = stack === "host" ? "host" : stack;
      for (const e of CATALOG.filter((x) => x.environments.includes(env))) expect(entryServices(plan, e.key).length, e.key).toBeGreaterThan(0);
      // What `dualstack plan` prints about the catalog: every entry of the environment, wired.
      const catalog = plan.outputs.catalog.value as { entries: EntryPlan[]; vaultMount?: string; backups: boolean };
      expect(catalog.entries.map((e) => e.key).sort()).toEqual(
        CATALOG.filter((x) => x.environments.includes(env))
          .map((x) => x.key)
          .sort(),
      );
      const text = renderCatalogTable(catalog.entries, catalog);
      if (stack === "private")
        expect(text).toContain("PostgreSQL   svc_langfuse (own database and login role, TLS verify-full)\n  Vault        kv-private/catalog/langfuse");
      if (stack === "host") expect(text).toContain("credentials  stack output gitea (secret)");
    },
    300_000,
  );
});

/** The containers an entry runs in a plan: the services its entry lists in the stack's catalog output, every one found. */
function entryServices(plan: PlanResult, key: string): PlannedResource[] {
  const entry = (plan.outputs.catalog.value as { entries: EntryPlan[] }).entries.find((e) => e.key === key);
  if (!entry) return [];
  const found = entry.services.map((s) => containers(plan).find((c) => c.name.endsWith(`-services-${s}`) || c.name.endsWith(`-cicd-${s}`)));
  expect(found.every(Boolean), `${key}: ${entry.services.join(", ")}`).toBe(true);
  return found as PlannedResource[];
}
