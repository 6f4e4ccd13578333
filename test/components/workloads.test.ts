import { describe, expect, it } from "vitest";
import { ComposeStack } from "../../components/compose-stack";
import { ModelDeployment, deployModels } from "../../components/model-deployment";
import { GPU_CATALOG } from "../../lib/capacity/catalog";
import { capacityReport } from "../../lib/capacity/report";
import { environmentStack } from "../../lib/compose/services";
import { materialNames, type StackSpec } from "../../lib/compose/spec";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { COMPUTED_MARK, PROVIDER_CODE_MARK, SECRET_MARK } from "../../ops/engine";
import { committedConfig } from "../helpers/config";
import { GENERATED_SECRET, byType, one, underMocks } from "../helpers/mocks";

const D = {
  provider: "pulumi:providers:docker",
  network: "docker:index/network:Network",
  volume: "docker:index/volume:Volume",
  image: "docker:index/remoteImage:RemoteImage",
  container: "docker:index/container:Container",
  password: "random:index/randomPassword:RandomPassword",
  model: "pulumi-nodejs:dynamic/ollama:Model",
};

function env(stack: "private" | "public"): EnvironmentConfig {
  const loaded = loadConfig(committedConfig(stack));
  if (loaded.role === "host") throw new Error("env");
  return loaded.config;
}

describe("ComposeStack", () => {
  const KEY_PEM = "-----BEGIN PRIVATE KEY-----\nkey-material-under-test\n-----END PRIVATE KEY-----\n";
  const material = (m: string) => (m.endsWith("-key") ? KEY_PEM : `-----BEGIN CERTIFICATE-----\n${m}\n-----END CERTIFICATE-----\n`);
  const build = (stack: "private" | "public") => () => {
    const spec = environmentStack(env(stack), stack);
    return new ComposeStack(`${stack}-services`, {
      spec,
      dockerHost: `ssh://ops@10.${stack === "private" ? 20 : 30}.0.10`,
      env: stack,
      stack,
      publicServices: stack === "public" ? ["ingress"] : [],
      materials: Object.fromEntries(materialNames(spec).map((m) => [m, material(m)])),
    });
  };

  it("reaches the VM's engine over SSH and keeps every named volume on delete", async () => {
    const rs = await underMocks(build("private"));
    expect(one(rs, D.provider).inputs).toMatchObject({ host: "ssh://ops@10.20.0.10" });
    const vols = byType(rs, D.volume);
    expect(vols.map((v) => (v.inputs as any).name).sort()).toEqual(["private_chroma-data", "private_ollama-models", "private_open-webui-data"]);
    for (const v of vols) expect(v.options).toMatchObject({ retainOnDelete: true, protect: true });
    expect(byType(rs, D.network).map((n) => (n.inputs as any).name)).toEqual(["private_ai"]);
  });

  it("pulls images by tag and runs containers on the resolved digest, with Compose labels", async () => {
    const rs = await underMocks(build("private"));
    expect(
      byType(rs, D.image)
        .map((i) => (i.inputs as any).name)
        .sort(),
    ).toEqual([
      "caddy:2.10.2-alpine",
      "chromadb/chroma:1.0.20",
      "ghcr.io/open-webui/open-webui:v0.8.12",
      "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless",
      "ollama/ollama:0.18.2",
    ]);
    const ollama = one(rs, D.container, "private-services-ollama").inputs as any;
    expect(ollama.image).toBe(COMPUTED_MARK); // the image's repoDigest
    expect(ollama).toMatchObject({ name: "private-ollama-1", gpus: "all", restart: "unless-stopped", wait: true, mustRun: true });
    // Loopback only: the gateway serves it on the VM's address over TLS.
    expect(ollama.ports).toEqual([{ internal: 11434, external: 11434, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(ollama.volumes).toEqual([{ volumeName: "private_ollama-models", containerPath: "/root/.ollama", readOnly: false }]);
    const labels = Object.fromEntries(ollama.labels.map((l: any) => [l.label, l.value]));
    expect(labels).toMatchObject({
      "com.docker.compose.project": "private",
      "com.docker.compose.service": "ollama",
      env: "private",
      "managed-by": "ai-dualstack",
    });
    expect(ollama.envs).toContain("OLLAMA_CONTEXT_LENGTH=8192");
  });

  it("starts a service only after its dependencies are healthy, and keeps generated secrets secret", async () => {
    const rs = await underMocks(build("private"));
    const ui = one(rs, D.container, "private-services-open-webui");
    expect(ui.options.dependsOn).toContain(one(rs, D.container, "private-services-ollama").urn);
    expect((ui.inputs as any).envs).toBe(SECRET_MARK);
    // Declared too: policies (and the state) cannot rely on the value's own secretness.
    expect(ui.options.additionalSecretOutputs).toEqual(["envs"]);
    expect(one(rs, D.container, "private-services-ollama").options.additionalSecretOutputs).toEqual([]);
    expect(JSON.stringify(rs)).not.toContain(GENERATED_SECRET);
    expect(one(rs, D.password).inputs).toMatchObject({ length: 48, special: false });
  });

  it("public: the ingress publishes 443 on every address with its Caddyfile; nothing else leaves the VM", async () => {
    const rs = await underMocks(build("public"));
    const ingress = one(rs, D.container, "public-services-ingress").inputs as any;
    expect(ingress.ports).toEqual([{ internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" }]);
    expect(ingress.uploads[0]).toMatchObject({ file: "/etc/caddy/Caddyfile" });
    expect(ingress.uploads[0].content).toContain("https://chat.example.org {");
    for (const c of byType(rs, D.container).filter((c) => c.name !== "public-services-ingress")) {
      for (const p of (c.inputs as any).ports ?? []) expect(["10.30.0.10", "127.0.0.1"]).toContain(p.ip);
    }
    // Qdrant itself publishes nothing: the gateway serves its port over TLS.
    expect((one(rs, D.container, "public-services-qdrant").inputs as any).ports).toEqual([]);
    expect((one(rs, D.container, "public-services-gateway").inputs as any).ports).toEqual([
      { internal: 11434, external: 11434, ip: "10.30.0.10", protocol: "tcp" },
      { internal: 6333, external: 6333, ip: "10.30.0.10", protocol: "tcp" },
    ]);
  });

  it("the gateway gets each service's certificate and key as secret files; the key never shows in plain text", async () => {
    const rs = await underMocks(build("private"));
    const gateway = one(rs, D.container, "private-services-gateway");
    expect(gateway.options.additionalSecretOutputs).toEqual(["uploads"]);
    // The list holds keys, so the engine keeps all of it secret (the files are listed in the spec test).
    expect((gateway.inputs as any).uploads).toBe(SECRET_MARK);
    expect((one(rs, D.container, "private-services-chroma").inputs as any).uploads).toEqual([]);
    expect(JSON.stringify(rs)).not.toContain("key-material-under-test");
    expect((gateway.inputs as any).ports.map((p: any) => `${p.ip}:${p.external}`)).toEqual(["10.20.0.10:11434", "10.20.0.10:3000", "10.20.0.10:8000"]);
  });

  it("refuses a stack whose files name key material it was not given", async () => {
    const spec = environmentStack(env("private"), "private");
    await expect(
      underMocks(() => new ComposeStack("bad", { spec, dockerHost: "ssh://ops@x", env: "private", stack: "private", materials: { "tls-chroma-cert": "x" } })),
    ).rejects.toThrow(
      "compose stack private: files need key material not given to the stack: tls-chroma-key, tls-ollama-cert, tls-ollama-key, tls-open-webui-cert, tls-open-webui-key",
    );
  });

  it("refuses an unsound spec before creating anything", async () => {
    const spec = environmentStack(env("public"), "public");
    await expect(underMocks(() => new ComposeStack("bad", { spec, dockerHost: "ssh://ops@x", env: "public", stack: "public" }))).rejects.toThrow(
      "compose stack public: service ingress: publishes 443 on every address; only the ingress may",
    );
  });
});

describe("ComposeStack: what the catalog's services use", () => {
  const GIVEN = "given-database-password-under-test";
  const spec: StackSpec = {
    project: "private",
    networks: [{ name: "ai", internal: false }],
    volumes: ["app-data"],
    services: [
      {
        name: "setup",
        image: "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z",
        entrypoint: ["/bin/sh", "/setup.sh"],
        environment: { MC_HOST_local: { template: "http://admin:{{root-password}}@minio:9000" } },
        ports: [],
        volumes: [],
        files: [{ path: "/setup.sh", content: "mc ready local\n" }],
        restart: "no",
        oneShot: true,
        gpu: false,
        dependsOnHealthy: [],
        networks: ["ai"],
        memoryMiB: 128,
      },
      {
        name: "app",
        image: "ai-dualstack/app:1.0.0",
        build: { context: "apps/example", dockerfile: "Dockerfile", args: {} },
        environment: {
          DATABASE_URL: { template: "postgresql://svc_app:{{pg-app-password}}@10.20.0.21:5432/svc_app" },
          ENCRYPTION_KEY: { secret: "app-key-hex" },
          COOKIE_SECRET: { secret: "cookie-32" },
          LOG_LEVEL: "info",
        },
        ports: [],
        volumes: [{ volume: "app-data", path: "/data" }],
        files: [{ path: "/etc/app.conf", template: "password {{pg-app-password}}\n" }],
        healthcheck: { test: ["CMD", "true"], interval: "30s", timeout: "10s", retries: 3, startPeriod: "10s" },
        restart: "unless-stopped",
        gpu: false,
        dependsOnHealthy: ["setup"],
        networks: ["ai"],
        memoryMiB: 512,
        cpus: 1.5,
        shmSizeMiB: 256,
      },
    ],
  };
  const args = { spec, dockerHost: "ssh://ops@10.20.0.10", env: "private" as const, stack: "private", secretValues: { "pg-app-password": GIVEN } };
  const build = () => new ComposeStack("cat", args);

  it("builds an image from its context on the engine, rebuilt when the context changes, and runs it with its limits", async () => {
    const rs = await underMocks(build);
    const image = one(rs, D.image, "cat-img-ai-dualstack-app-1-0-0").inputs as any;
    expect(image.build).toMatchObject({ context: "apps/example", dockerfile: "Dockerfile", tags: ["ai-dualstack/app:1.0.0"] });
    expect(image.triggers["context-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    const app = one(rs, D.container, "cat-app").inputs as any;
    expect(app).toMatchObject({ memory: 512, cpus: "1.5", shmSize: 256, mustRun: true });
  });

  it("fills templates from given and generated secrets, all of them secret, and generates keys of the form their names ask", async () => {
    const rs = await underMocks(build);
    expect(JSON.stringify(rs)).not.toContain(GIVEN);
    const app = one(rs, D.container, "cat-app");
    // One secret value makes the whole list secret: nothing of it is stored in plain text.
    expect((app.inputs as any).envs).toBe(SECRET_MARK);
    // The file waits for every secret (the hex key is unknown until applied), then is secret: never plain.
    expect([SECRET_MARK, COMPUTED_MARK]).toContain((app.inputs as any).uploads[0].content);
    expect(app.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["envs", "uploads"]));
    // The given password is not generated again; the hex key is 32 random bytes; the cookie secret 32 characters.
    expect(
      byType(rs, D.password)
        .map((p) => [p.name, (p.inputs as any).length])
        .sort(),
    ).toEqual([
      ["cat-cookie-32", 32],
      ["cat-root-password", 48],
    ]);
    const key = one(rs, "random:index/randomId:RandomId");
    expect(key.inputs).toMatchObject({ byteLength: 32 });
    expect(key.options.additionalSecretOutputs).toEqual(["hex", "b64Std", "b64Url", "dec"]);
  });

  it("runs a setup job once, attached until it exits, its output kept secret, before what depends on it", async () => {
    const rs = await underMocks(build);
    const setup = one(rs, D.container, "cat-setup");
    expect(setup.inputs).toMatchObject({ mustRun: false, attach: true, logs: true, restart: "no", entrypoints: ["/bin/sh", "/setup.sh"] });
    expect(setup.options.additionalSecretOutputs).toContain("containerLogs");
    expect(one(rs, D.container, "cat-app").options.dependsOn.some((d) => d.endsWith("cat-setup"))).toBe(true);
  });

  it("waits for a dependency declared after the service (cycles and unknown dependencies: test/lib/compose.test.ts)", async () => {
    const reversed = { ...spec, services: [...spec.services].reverse() };
    const rs = await underMocks(() => new ComposeStack("rev", { ...args, spec: reversed }));
    expect(one(rs, D.container, "rev-app").options.dependsOn.some((d) => d.endsWith("rev-setup"))).toBe(true);
  });
});

describe("ModelDeployment", () => {
  const cfg = env("private");
  const report = capacityReport(cfg, { catalog: "rtx-5090", ...GPU_CATALOG["rtx-5090"] });

  it("derived models bake their context; every model must sit entirely in VRAM once warmed", async () => {
    const rs = await underMocks(
      () => new ModelDeployment("second-brain", { host: "http://10.20.0.10:11434", deployment: cfg.models[1], capacity: report.models[1], keepAlive: "-1" }),
    );
    const m = one(rs, D.model).inputs as any;
    expect(m).toMatchObject({
      host: "http://10.20.0.10:11434",
      name: "second-brain:32b",
      from: "qwen2.5:32b",
      warm: true,
      keepAlive: "-1",
      requireFullGpu: true,
      stallSeconds: 300,
    });
    expect(m.parameters).toEqual({ temperature: 0.3, top_p: 0.9, num_ctx: 8192 });
    expect(m.capacity).toMatchObject({ catalogModel: "qwen2.5:32b", context: 8192, kvCacheType: "q8_0", fits: true });
    expect(m.__provider).toBe(PROVIDER_CODE_MARK);
  });

  it("deployModels: a derived model is deployed after the deployment of its base when both are here, the rest side by side", async () => {
    const deployments = [{ ...cfg.models[1], from: "qwen2.5:14b" }, cfg.models[0], { ...cfg.models[0], name: "mistral:7b" }];
    const rs = await underMocks(() =>
      deployModels(
        deployments,
        (d, i, after) =>
          new ModelDeployment(`m${i}`, { host: "http://10.20.0.10:11434", deployment: d, capacity: report.models[0], keepAlive: "-1" }, { dependsOn: after }),
      ),
    );
    const deps = (name: string) => one(rs, "dualstack:workload:ModelDeployment", name).options.dependsOn;
    expect(deps("m0")).toEqual([expect.stringMatching(/::m1-model$/)]);
    expect(deps("m1")).toEqual([]);
    expect(deps("m2")).toEqual([]);
  });

  it("pulled models bake nothing", async () => {
    const rs = await underMocks(
      () => new ModelDeployment("qwen", { host: "http://10.20.0.10:11434", deployment: cfg.models[0], capacity: report.models[0], keepAlive: "-1" }),
    );
    const m = one(rs, D.model).inputs as any;
    expect(m.name).toBe("qwen2.5:14b");
    expect(m.from).toBeUndefined();
    expect(m.parameters).toBeUndefined();
  });
});
