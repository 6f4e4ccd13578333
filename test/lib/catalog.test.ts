// The service catalog's pure logic: config errors that name the missing piece, the wiring each entry renders, the
// ingress sites checked by the real caddy, the service probe against a stand-in Docker and promtool, vLLM's memory.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type RawConfig } from "../../lib/config/load";
import { environmentCatalog, environmentStack, ingressInput } from "../../lib/compose/services";
import { validateStackSpec, secretNames, fillTemplate } from "../../lib/compose/spec";
import { renderCaddyfile } from "../../lib/compose/caddyfile";
import { renderServiceProbeScript } from "../../lib/monitoring/service-probe";
import { renderSyncHealth, renderSyncScript } from "../../lib/catalog/object-storage";
import { estimateVllm } from "../../lib/capacity/vllm";
import { GPU_CATALOG, MODEL_CATALOG } from "../../lib/capacity/catalog";
import { renderRealm } from "../../lib/catalog/identity";
import { ENVIRONMENT_NEEDS } from "../../lib/catalog/types";
import { WIRING_KEYS } from "../../lib/catalog/wiring";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { DELETE, committedConfig, edit } from "../helpers/config";
import { tool } from "../helpers/process";

function problemsOf(raw: RawConfig): string[] {
  try {
    loadConfig(raw, { offline: true });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
const withServices = (stack: "private" | "public" | "host", services: Record<string, unknown>) => {
  const raw = committedConfig(stack);
  const current = JSON.parse(raw.values["ai-dualstack:services"] ?? "{}");
  return edit(raw, "services", [], { ...current, ...services });
};
const load = (stack: "private" | "public", services: Record<string, unknown>) =>
  loadConfig(withServices(stack, services), { offline: true }).config as EnvironmentConfig;

describe("catalog config", () => {
  it("a missing dependency is a config error naming it", () => {
    expect(problemsOf(withServices("private", { langfuse: {} }))).toEqual([
      "ai-dualstack:services.langfuse: needs services.minio (MinIO object storage: Langfuse v3 writes raw events to S3 before ClickHouse); enable it with `minio: {}` or remove langfuse",
    ]);
    expect(problemsOf(withServices("private", { rag: { image: "ghcr.io/example/rag:1.0.0" } }))[0]).toMatch(
      /services\.rag: needs services\.unstructured \(Unstructured API/,
    );
    expect(problemsOf(withServices("public", { zep: {} }))[0]).toMatch(/services\.zep: needs services\.neo4j/);
    expect(problemsOf(withServices("public", { oauth2Proxy: {} }))[0]).toMatch(/services\.oauth2Proxy: needs services\.keycloak/);
    expect(problemsOf(withServices("public", { apps: { api: { image: "ghcr.io/example/api:1.0.0", hostname: "api.example.org", auth: true } } }))[0]).toMatch(
      /services\.apps: needs services\.oauth2Proxy/,
    );
  });

  it("an entry outside its environment, a bad field, and the host's needs are errors with their key path", () => {
    expect(problemsOf(withServices("public", { langflow: {} }))).toEqual([
      "ai-dualstack:services.langflow: LangFlow (visual prototyping) belongs to the private environment, not to public",
    ]);
    expect(problemsOf(withServices("private", { gitea: {} }))[0]).toMatch(
      /services\.gitea: Gitea with an Actions runner \(platform CI\/CD\) belongs to the host stack, not to private/,
    );
    expect(problemsOf(withServices("private", { langflow: { image: "langflowai/langflow:latest" } }))).toEqual([
      'ai-dualstack:services.langflow.image: expected an explicit version tag, not :latest, got "langflowai/langflow:latest"',
    ]);
    expect(problemsOf(withServices("private", { apps: { api: {} } }))).toEqual([
      "ai-dualstack:services.apps.api.image: expected exactly one of image (a registry image) or build (a directory of this repository with a Dockerfile), got nothing (the key is required)",
    ]);
    expect(problemsOf(withServices("private", { apps: { api: { build: { context: "../etc" } } } }))[0]).toMatch(
      /services\.apps\.api\.build\.context: expected a directory of this repository/,
    );
    expect(problemsOf(withServices("private", { apps: { api: { image: "ghcr.io/a/b:1", hostname: "x.example.org" } } }))[0]).toMatch(
      /apps\.api\.hostname: only the public environment serves the internet/,
    );
    expect(
      problemsOf(
        withServices("private", {
          apps: { api: { image: "ghcr.io/a/b:1", needs: ["postgres"], environment: { DATABASE_URL: "postgres://elsewhere", LOG_LEVEL: "debug" } } },
        }),
      ),
    ).toEqual(["ai-dualstack:services.apps.api.environment.DATABASE_URL: DATABASE_URL is set by the catalog's wiring (needs: [postgres]); leave it out"]);
    expect(problemsOf(withServices("host", { gitea: {} }))).toEqual([]);
    expect(problemsOf(edit(withServices("host", { gitea: {} }), "platform", ["containers", "cicd", "features"], ["nesting"]))).toEqual([
      'ai-dualstack:platform.containers.cicd.features: expected [nesting, keyctl]: Gitea and its runner run in Docker inside the cicd container, got ["nesting"]',
    ]);
  });

  it("an entry that needs a GPU is refused on a VM without the NVIDIA stack", () => {
    const raw = withServices("private", { jupyter: {} });
    const gpuVm = { ...JSON.parse(raw.values["ai-dualstack:gpuVm"]), nvidia: false };
    delete gpuVm.nvidiaDriverPackage;
    expect(problemsOf(edit(raw, "gpuVm", [], gpuVm))).toEqual([
      expect.stringMatching(/^ai-dualstack:services\.jupyter: needs a GPU \(.*\), which the private stack does not provide$/),
    ]);
    expect(problemsOf(raw)).toEqual([]);
  });

  it("vLLM owns the GPU: a warm Ollama model is refused, and an unknown checkpoint needs its facts", () => {
    expect(problemsOf(withServices("public", { vllm: { model: "TheBloke/Mistral-7B-Instruct-v0.2-AWQ" } }))).toEqual([
      "ai-dualstack:models[0].warm: vLLM owns the GPU (services.vllm): Ollama runs on the CPU, so no model can be kept warm on the GPU; set warm: false or remove services.vllm",
    ]);
    expect(problemsOf(withServices("private", { vllm: { model: "acme/secret-model-7B" } }))[0]).toMatch(
      /services\.vllm\.weightsGiB: acme\/secret-model-7B is not in the planner's list/,
    );
  });

  it("vLLM owns the GPU: every model still on Ollama says it is served from the CPU, and the UIs talk to vLLM", () => {
    const raw = withServices("public", { vllm: { model: "TheBloke/Mistral-7B-Instruct-v0.2-AWQ" } });
    const cold = edit(raw, "models", [0, "warm"], false);
    expect(problemsOf(cold)).toEqual([
      "ai-dualstack:models[0].cpu: vLLM owns the GPU (services.vllm): Ollama would serve mistral:7b from the CPU; say so with cpu: true, or remove the model (the UIs and apps use vLLM's mistral-7b-instruct-v0.2-awq)",
    ]);
    const explicit = edit(raw, "models", [0], { name: "mistral:7b", warm: false, cpu: true });
    expect(problemsOf(explicit)).toEqual([]);
    // Without vLLM, cpu: true means nothing and is refused.
    expect(problemsOf(edit(committedConfig("public"), "models", [0, "cpu"], true))).toEqual([
      "ai-dualstack:models[0].cpu: cpu: true is for an environment whose GPU vLLM owns (services.vllm); without it Ollama serves from the GPU",
    ]);
    for (const [stack, ui] of [
      ["public", "chatbot"],
      ["private", "open-webui"],
    ] as const) {
      const withVllm = edit(
        withServices(stack, { vllm: { model: stack === "public" ? "TheBloke/Mistral-7B-Instruct-v0.2-AWQ" : "Qwen/Qwen2.5-14B-Instruct-AWQ" } }),
        "models",
        [],
        [{ name: "qwen2.5:14b", warm: false, cpu: true }],
      );
      const service = environmentStack(loadConfig(withVllm, { offline: true }).config as EnvironmentConfig, stack).services.find((s) => s.name === ui)!;
      expect(service.environment).toMatchObject({
        ENABLE_OPENAI_API: "true",
        OPENAI_API_BASE_URL: "http://vllm:8000/v1",
        OPENAI_API_KEY: { secret: "vllm-api-key" },
      });
      const plain = environmentStack(loadConfig(committedConfig(stack), { offline: true }).config as EnvironmentConfig, stack).services.find(
        (s) => s.name === ui,
      )!;
      expect(plain.environment.ENABLE_OPENAI_API).toBe("false");
      expect(plain.environment.OPENAI_API_KEY).toBeUndefined();
    }
  });

  it("ACME needs an account e-mail; Rclone's own remotes need the secret rcloneConfig", () => {
    const ingress = { image: "caddy:2.10.2-alpine", hostname: "chat.example.org", tls: "acme" };
    expect(problemsOf(withServices("public", { ingress }))).toEqual([
      "ai-dualstack:services.ingress.acmeEmail: expected the ACME account's e-mail address with tls: acme, got nothing (the key is required)",
    ]);
    const rclone = { minio: {}, rclone: { jobs: [{ name: "offsite", from: "minio:docs", to: "offsite:docs" }] } };
    const raw = edit(withServices("private", rclone), "rcloneConfig", [], DELETE);
    expect(problemsOf(raw)).toEqual([]); // offline: a placeholder stands in
    expect(() => loadConfig(raw)).toThrow(/ai-dualstack:rcloneConfig: expected an rclone.conf with the remotes services.rclone's jobs name/);
    // Jobs between MinIO's buckets need no remote of yours.
    expect(() =>
      loadConfig(
        edit(withServices("private", { minio: {}, rclone: { jobs: [{ name: "copy", from: "minio:a", to: "minio:b" }] } }), "rcloneConfig", [], DELETE),
      ),
    ).not.toThrow();
  });
});

describe("catalog wiring", () => {
  it("a service reaches its own database over verified TLS, with its password only in the template", () => {
    const c = load("private", { langflow: {} });
    const spec = environmentStack(c, "private");
    const langflow = spec.services.find((s) => s.name === "langflow")!;
    expect(langflow.environment.LANGFLOW_DATABASE_URL).toEqual({
      template: "postgresql://svc_langflow:{{pg-langflow-password}}@10.20.0.21:5432/svc_langflow?sslmode=verify-full&sslrootcert=/etc/ai-dualstack/ca.pem",
    });
    expect(langflow.environment.OLLAMA_BASE_URL).toBe("http://ollama:11434");
    expect(langflow.files).toContainEqual({ path: "/etc/ai-dualstack/ca.pem", material: "env-ca" });
    expect(secretNames(spec)).toContain("pg-langflow-password");
    expect(environmentCatalog(c, "private").databases).toEqual(["langflow"]);
    expect(validateStackSpec(spec)).toEqual([]);
  });

  it("apps get the environment's vector DB, Redis under their own prefix and the vLLM endpoint when vLLM serves", () => {
    const raw = edit(
      withServices("public", {
        vllm: { model: "TheBloke/Mistral-7B-Instruct-v0.2-AWQ" },
        apps: { api: { image: "ghcr.io/example/api:1.2.0", needs: ["llm", "vectorDb", "redis"] } },
      }),
      "models",
      [0],
      { name: "mistral:7b", warm: false, cpu: true },
    );
    const c = loadConfig(raw, { offline: true }).config as EnvironmentConfig;
    const app = environmentStack(c, "public").services.find((s) => s.name === "app-api")!;
    expect(app.environment).toMatchObject({
      OPENAI_BASE_URL: "http://vllm:8000/v1",
      OPENAI_API_KEY: { secret: "vllm-api-key" },
      LLM_MODEL: "mistral-7b-instruct-v0.2-awq",
      QDRANT_URL: "http://qdrant:6333",
      QDRANT_API_KEY: { secret: "qdrant-api-key" },
      REDIS_URL: { template: "rediss://svc-app-api:{{redis-app-api-password}}@10.30.0.22:6379/0" },
      REDIS_KEY_PREFIX: "svc:app-api:",
    });
  });

  it("the wiring sets only the names WIRING_KEYS lists for each need (what an app's own environment may not set)", () => {
    for (const [stack, extra] of [
      ["private", {}],
      ["public", { vllm: { model: "TheBloke/Mistral-7B-Instruct-v0.2-AWQ" } }],
    ] as const) {
      let raw = withServices(stack, {
        ...extra,
        apps: Object.fromEntries(
          ENVIRONMENT_NEEDS.filter((n) => n !== "gpu").map((n) => [n.toLowerCase(), { image: "ghcr.io/example/api:1.0.0", needs: [n] }]),
        ),
      });
      if ("vllm" in extra) raw = edit(raw, "models", [0], { name: "mistral:7b", warm: false, cpu: true });
      const spec = environmentStack(loadConfig(raw, { offline: true }).config as EnvironmentConfig, stack);
      for (const need of ENVIRONMENT_NEEDS.filter((n) => n !== "gpu")) {
        const app = spec.services.find((s) => s.name === `app-${need.toLowerCase()}`)!;
        const wired = Object.keys(app.environment).filter((k) => k !== "PORT");
        expect(wired.length, need).toBeGreaterThan(0);
        expect(WIRING_KEYS[need], `${stack} ${need}`).toEqual(expect.arrayContaining(wired));
      }
    }
  });

  it("templates fill from the secrets and refuse an unknown name", () => {
    expect(fillTemplate("neo4j/{{neo4j-password}}", { "neo4j-password": "s3cret" })).toBe("neo4j/s3cret");
    expect(() => fillTemplate("{{missing}}", {})).toThrow(/unknown secret missing/);
  });

  it("Keycloak's realm registers every public site's callback, its secret a placeholder", () => {
    const realm = JSON.parse(renderRealm("ai-dualstack", ["chat.example.org", "api.example.org"]));
    expect(realm.clients[0].redirectUris).toEqual(["https://chat.example.org/oauth2/callback", "https://api.example.org/oauth2/callback"]);
    expect(realm.clients[0].secret).toBe("{{keycloak-ingress-client-secret}}");
    expect(realm.registrationAllowed).toBe(false);
  });
});

describe("the public ingress with catalog sites", () => {
  const caddy = (text: string, cmd: "validate" | "adapt") => {
    const dir = mkdtempSync(join(tmpdir(), "caddy-"));
    writeFileSync(join(dir, "Caddyfile"), text);
    return spawnSync(tool("caddy"), [cmd, "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8" });
  };

  it("OAuth2-protected sites and ACME certificates are valid for the real caddy", () => {
    const c = load("public", {
      oauth2Proxy: {},
      keycloak: { hostname: "auth.example.org" },
      streamlit: { image: "ghcr.io/example/demo:1.0.0", hostname: "demo.example.org", auth: true },
    });
    const input = ingressInput({ ...c, services: { ...c.services, ingress: { ...c.services.ingress!, tls: "acme", acmeEmail: "ops@example.org" } } });
    expect(input.sites.map((s) => [s.hostname, s.auth ?? false])).toEqual([
      ["chat.example.org", false],
      ["demo.example.org", true],
      ["auth.example.org", false],
    ]);
    const text = renderCaddyfile(input);
    const r = caddy(text, "adapt");
    expect(r.error, "caddy is not installed: apt-get install caddy").toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(JSON.stringify(json.apps.tls.automation)).toContain("ops@example.org");
    expect(JSON.stringify(json.apps.http.servers)).toContain("/oauth2/auth");
    expect(caddy(renderCaddyfile({ ...input, tls: "internal" }), "validate").stdout + "").toContain("Valid configuration");
  });

  it("refuses a protected site without the proxy and a bad path", () => {
    expect(() => renderCaddyfile({ sites: [{ hostname: "a.example.org", upstream: "a:1", auth: true }], tls: "internal" })).toThrow(/needs the OAuth2 proxy/);
    expect(() => renderCaddyfile({ sites: [{ hostname: "a.example.org", upstream: "a:1", deny: ["/x }"] }], tls: "internal" })).toThrow(/invalid path/);
    expect(() => renderCaddyfile({ sites: [{ hostname: "a.example.org", upstream: "a:1" }], tls: "acme" })).toThrow(/e-mail/);
  });
});

describe("the service probe", () => {
  it("reports each container's state and health from Docker, and promtool accepts it", () => {
    const dir = mkdtempSync(join(tmpdir(), "probe-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const inspect = [
      {
        Name: "/p-ok-1",
        Config: { Labels: { "com.docker.compose.service": "langflow" } },
        State: { Status: "running", ExitCode: 0, Health: { Status: "healthy" } },
        HostConfig: { RestartPolicy: { Name: "unless-stopped" } },
      },
      {
        Name: "/p-bad-1",
        Config: { Labels: { "com.docker.compose.service": "prefect-server" } },
        State: { Status: "running", ExitCode: 0, Health: { Status: "unhealthy" } },
        HostConfig: { RestartPolicy: { Name: "unless-stopped" } },
      },
      {
        Name: "/p-job-1",
        Config: { Labels: { "com.docker.compose.service": "minio-setup" } },
        State: { Status: "exited", ExitCode: 0 },
        HostConfig: { RestartPolicy: { Name: "no" } },
      },
      {
        Name: "/p-down-1",
        Config: { Labels: { "com.docker.compose.service": "zep" } },
        State: { Status: "exited", ExitCode: 137 },
        HostConfig: { RestartPolicy: { Name: "unless-stopped" } },
      },
    ];
    writeFileSync(join(bin, "docker"), `#!/bin/bash\nif [ "$1" = ps ]; then echo a; echo b; else cat '${join(dir, "inspect.json")}'; fi\n`);
    chmodSync(join(bin, "docker"), 0o755);
    writeFileSync(join(dir, "inspect.json"), JSON.stringify(inspect));
    const script = join(dir, "probe");
    writeFileSync(script, renderServiceProbeScript({ project: "private", metricsDir: dir }));
    const r = spawnSync("bash", [script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const out = readFileSync(join(dir, "services.prom"), "utf8");
    expect(out).toContain('ai_dualstack_service_healthy{service="langflow"} 1');
    expect(out).toContain('ai_dualstack_service_healthy{service="prefect-server"} 0');
    expect(out).toContain('ai_dualstack_service_up{service="prefect-server"} 1');
    expect(out).toContain('ai_dualstack_service_up{service="minio-setup"} 1');
    expect(out).toContain('ai_dualstack_service_up{service="zep"} 0');
    expect(out).toContain("ai_dualstack_service_probe_success 1");
    const lint = spawnSync(tool("promtool"), ["check", "metrics"], { input: out, encoding: "utf8" });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    // Docker not answering: the probe says so instead of reporting every service down.
    writeFileSync(join(bin, "docker"), "#!/bin/bash\nexit 1\n");
    expect(spawnSync("bash", [script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }).status).toBe(0);
    expect(readFileSync(join(dir, "services.prom"), "utf8")).toContain("ai_dualstack_service_probe_success 0");
  });

  it("the Rclone loop and its healthcheck are valid shell", () => {
    const c = {
      image: "rclone/rclone:1.71.1",
      jobs: [{ name: "offsite", from: "minio:docs", to: "offsite:docs", mode: "copy" as const, every: "6h" }],
      memoryMiB: 512,
      cpus: 1,
    };
    for (const text of [renderSyncScript(c), renderSyncHealth(c)]) expect(spawnSync("sh", ["-n"], { input: text }).status).toBe(0);
    expect(renderSyncHealth(c)).toContain(`-le ${2 * 6 * 3600 + 600} ]`);
  });
});

describe("vLLM's memory model", () => {
  const gpu = GPU_CATALOG["rtx-3060-12gb"];
  const arch = MODEL_CATALOG["mistral:7b"];
  const shape = { gpuMemoryUtilization: 0.9, maxModelLen: 8192, maxNumSeqs: 16, kvCacheDtype: "auto" as const, reservedBytes: 0 };
  it("gives what is left of its share to the KV cache, and says when one sequence does not fit", () => {
    const e = estimateVllm(4_150_000_000, arch, gpu, shape);
    expect(e.kvBytesPerToken).toBe(32 * 2 * 8 * 128 * 2);
    expect(e.kvTokens).toBe(Math.floor((Math.floor(0.9 * gpu.vramBytes) - 4_150_000_000 - e.overheadBytes) / e.kvBytesPerToken));
    expect(e.fits).toBe(true);
    expect(estimateVllm(4_150_000_000, arch, gpu, { ...shape, kvCacheDtype: "fp8" }).kvTokens).toBeGreaterThan(e.kvTokens * 1.9);
    const big = estimateVllm(6_000_000_000, arch, gpu, { ...shape, maxModelLen: 32_768 });
    expect(big.fits).toBe(false);
    expect(big.problems[0]).toMatch(/less than one sequence of maxModelLen 32768/);
    expect(estimateVllm(4_150_000_000, arch, gpu, { ...shape, reservedBytes: 4 * 1024 ** 3 }).problems[0]).toMatch(/other users reserve 4.0 GiB/);
  });
});
