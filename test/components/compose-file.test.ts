// `dualstack compose` against what ComposeStack creates: for every shipped and example environment stack, each
// service of the printed Compose file is held equal, field by field, to the docker.Container (and its image, volumes
// and network) that ComposeStack registers under mocks for the same spec.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ComposeStack } from "../../components/compose-stack";
import { renderComposeFile, secretVariable } from "../../lib/compose/compose-file";
import { environmentCatalog, environmentStack } from "../../lib/compose/services";
import { fillTemplate, materialNames, secretNames, type StackSpec } from "../../lib/compose/spec";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { readStackFile } from "../../ops/engine";
import { main } from "../../ops/cli";
import { ROOT } from "../helpers/config";
import { withNestedComputed } from "../../ops/engine";
import { byType, underMocks } from "../helpers/mocks";
import { run } from "../helpers/process";

const STACKS = [
  ["private", "Pulumi.private.yaml"],
  ["public", "Pulumi.public.yaml"],
  ["private", "examples/catalog/Pulumi.private.yaml"],
  ["public", "examples/catalog/Pulumi.public.yaml"],
] as const;

function specOf(stack: string, file: string): { c: EnvironmentConfig; spec: StackSpec } {
  const c = loadConfig(readStackFile(join(ROOT, file)), { offline: true }).config as EnvironmentConfig;
  return { c, spec: environmentStack(c, stack, environmentCatalog(c, stack)) };
}

/** Secret values as the mocks get them ({<signature>: …, value}), unwrapped, at any depth. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function unwrap(v: unknown): any {
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") {
    if (SECRET_SIG in v) return unwrap((v as unknown as { value: unknown }).value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

/** Compose's literal text back to the text (its `$$`). */
const unescape = (v: string) => v.replace(/\$\$/g, "$");

describe.each(STACKS)("dualstack compose %s (%s)", (stack, file) => {
  const { spec } = specOf(stack, file);
  const compose = parse(renderComposeFile(spec, { env: stack, stack }));

  it("holds every service equal to the container ComposeStack creates", async () => {
    // The containers' inputs as the engine gets them, secrets and all (the recorded plan shows them redacted).
    const raw = new Map<string, Record<string, any>>();
    const rs = await underMocks(
      () =>
        new ComposeStack(`${stack}-services`, {
          spec,
          dockerHost: "ssh://ops@10.0.0.10",
          env: stack,
          stack,
          publicServices: stack === "public" ? ["ingress"] : [],
          materials: Object.fromEntries(materialNames(spec).map((m) => [m, `material ${m}`])),
        }),
      "test",
      (type, inputs) => {
        if (type === "docker:index/container:Container") raw.set(inputs.name as string, unwrap(inputs));
        // Generated encryption keys get a value too, so that the templates that use them are filled.
        if (type === "random:index/randomId:RandomId") return { ...inputs, hex: "00".repeat(32) };
        return withNestedComputed(type, inputs, () => undefined);
      },
    );
    const containers = byType(rs, "docker:index/container:Container");
    expect(Object.keys(compose.services)).toEqual(spec.services.map((s) => s.name));
    expect(containers).toHaveLength(spec.services.length);
    const byName = new Map(containers.map((c) => [(c.inputs as any).name as string, c]));
    for (const s of spec.services) {
      const svc = compose.services[s.name];
      const container = byName.get(svc.container_name);
      expect(container, `${s.name}: no container named ${svc.container_name}`).toBeDefined();
      const i = raw.get(svc.container_name)! as any;
      const where = `${stack} ${s.name}`;
      expect(i.hostname, where).toBe(svc.hostname);
      // Environment: the same names; literal values equal; a secret's value interpolated from its variable.
      const envs = new Map<string, string>((i.envs ?? []).map((e: string) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
      expect([...envs.keys()].sort(), where).toEqual(Object.keys(svc.environment ?? {}).sort());
      for (const [k, v] of Object.entries(s.environment)) {
        const printed = svc.environment[k] as string;
        if (typeof v === "string") expect(unescape(printed), `${where} ${k}`).toBe(envs.get(k));
        else if ("secret" in v) expect(printed, `${where} ${k}`).toBe(`\${${secretVariable(v.secret)}:?the stack secret ${v.secret}}`);
        else expect(printed, `${where} ${k}`).not.toMatch(/\{\{/);
      }
      expect(
        (i.ports ?? []).map((p: any) => `${p.ip}:${p.external}:${p.internal}/${p.protocol}`),
        where,
      ).toEqual(svc.ports ?? []);
      const volumes = (svc.volumes ?? []).filter((v: any) => v.type === "volume");
      expect(
        (i.volumes ?? []).map((v: any) => [v.volumeName, v.containerPath, v.readOnly]),
        where,
      ).toEqual(volumes.map((v: any) => [compose.volumes[v.source].name, v.target, v.read_only ?? false]));
      expect(
        (i.mounts ?? []).map((m: any) => `${m.source}:${m.target}`),
        where,
      ).toEqual((svc.volumes ?? []).filter((v: any) => v.type === "bind").map((v: any) => `${v.source}:${v.target}`));
      expect((i.uploads ?? []).map((u: any) => u.file).sort(), where).toEqual(
        [...(svc.configs ?? []), ...(svc.secrets ?? [])].map((f: any) => f.target).sort(),
      );
      expect(i.restart, where).toBe(svc.restart);
      expect(i.gpus, where).toBe(svc.gpus);
      expect(i.memory, where).toBe(svc.mem_limit === undefined ? undefined : Number(svc.mem_limit.replace(/m$/, "")));
      expect(i.cpus, where).toBe(svc.cpus === undefined ? undefined : String(svc.cpus));
      expect(i.shmSize, where).toBe(svc.shm_size === undefined ? undefined : Number(svc.shm_size.replace(/m$/, "")));
      expect(i.entrypoints, where).toEqual(svc.entrypoint?.map(unescape));
      expect(i.command, where).toEqual(svc.command?.map(unescape));
      expect(
        i.healthcheck && {
          test: i.healthcheck.tests,
          interval: i.healthcheck.interval,
          timeout: i.healthcheck.timeout,
          retries: i.healthcheck.retries,
          start_period: i.healthcheck.startPeriod,
        },
        where,
      ).toEqual(svc.healthcheck && { ...svc.healthcheck, test: svc.healthcheck.test.map(unescape) });
      expect(
        i.networksAdvanced.map((n: any) => [n.name, n.aliases]),
        where,
      ).toEqual(Object.entries(svc.networks).map(([n, o]: [string, any]) => [compose.networks[n].name, o.aliases]));
      const labels = Object.fromEntries((i.labels as { label: string; value: string }[]).map((l) => [l.label, l.value]));
      const own = Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith("com.docker.compose.")));
      expect(own, where).toEqual(svc.labels);
      expect(labels["com.docker.compose.project"], where).toBe(compose.name);
      expect(labels["com.docker.compose.service"], where).toBe(s.name);
      expect({ driver: i.logDriver, options: i.logOpts }, where).toEqual(svc.logging);
      expect(i.securityOpts, where).toEqual(svc.security_opt);
      // Start order: a container waits for the ones Compose's depends_on names.
      const deps = Object.keys(svc.depends_on ?? {}).map((d) => byName.get(compose.services[d].container_name)!.urn);
      expect(container!.options.dependsOn.filter((u) => u.includes("docker:index/container:Container")).sort(), where).toEqual(deps.sort());
    }
    // The images pulled or built: the services' images.
    expect(
      byType(rs, "docker:index/remoteImage:RemoteImage")
        .map((r) => (r.inputs as any).name)
        .sort(),
    ).toEqual([...new Set(Object.values(compose.services).map((s: any) => s.image))].sort());
  });

  it("is read by Compose's own loader: with the secrets' variables set it loads, each value as ComposeStack sets it; without, it refuses", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "compose-")), "compose.yaml");
    writeFileSync(file, renderComposeFile(spec, { env: stack, stack }));
    const variables = Object.fromEntries(secretNames(spec).map((n) => [secretVariable(n), `value-of-${n}`]));
    const loaded = await run("compose-check", [file], { env: { PATH: process.env.PATH, ...variables }, cwd: dirname(file) });
    expect(loaded.code, loaded.stderr).toBe(0);
    const project = parse(loaded.stdout);
    for (const s of spec.services) {
      const resolved = project.services[s.name];
      for (const [k, v] of Object.entries(s.environment)) {
        const want =
          typeof v === "string"
            ? v
            : "secret" in v
              ? `value-of-${v.secret}`
              : fillTemplate(v.template, Object.fromEntries(secretNames(spec).map((n) => [n, `value-of-${n}`])));
        expect(resolved.environment[k], `${s.name} ${k}`).toBe(want);
      }
      expect(resolved.container_name).toBe(`${spec.project}-${s.name}-1`);
      expect((resolved.ports ?? []).map((p: any) => `${p.host_ip}:${p.published}:${p.target}/${p.protocol}`)).toEqual(
        s.ports.map((p) => `${p.bind}:${p.host}:${p.container}/${p.protocol ?? "tcp"}`),
      );
    }
    const missing = secretNames(spec)[0];
    if (missing) {
      const refused = await run("compose-check", [file], { env: { PATH: process.env.PATH, ...variables, [secretVariable(missing)]: "" }, cwd: dirname(file) });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`required variable ${secretVariable(missing)} is missing a value: the stack secret ${missing}`);
    }
  });

  it("holds no secret: every generated or given secret is a ${VARIABLE}", () => {
    const text = renderComposeFile(spec, { env: stack, stack });
    expect(text).not.toMatch(/\{\{[a-z0-9-]+\}\}/);
    expect(text).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
  });
});

describe("dualstack compose", () => {
  it("prints the environment's project; the host stack without Gitea has none, and says so", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    expect(await main(["compose", "public"], io)).toBe(0);
    expect(parse(out.join("")).name).toBe("public");
    out.length = 0;
    expect(await main(["compose", "host"], io)).not.toBe(0);
    expect(err.join("")).toContain("the host stack host runs no compose project (ai-dualstack:services.gitea is not enabled)");
    expect(await main(["compose", "host", "--config", "examples/catalog/Pulumi.host.yaml"], io)).toBe(0);
    expect(Object.keys(parse(out.join("")).services)).toContain("gitea");
  });
});
