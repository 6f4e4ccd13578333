import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderCaddyfile, renderGatewayCaddyfile } from "../../lib/compose/caddyfile";
import { environmentStack, gatewayRoutes, ollamaEnvironment } from "../../lib/compose/services";
import { composeLabels, materialNames, publishedPortRules, secretNames, validateStackSpec, type ServiceSpec, type StackSpec } from "../../lib/compose/spec";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { committedConfig, edit } from "../helpers/config";
import { tool } from "../helpers/process";

function env(stack: "private" | "public"): EnvironmentConfig {
  const loaded = loadConfig(committedConfig(stack));
  if (loaded.role === "host") throw new Error("env");
  return loaded.config;
}

const svc = (name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name,
  image: "x/y:1.0",
  environment: {},
  ports: [],
  volumes: [],
  restart: "unless-stopped",
  gpu: false,
  dependsOnHealthy: [],
  networks: ["ai"],
  ...extra,
});

describe("stack spec validation", () => {
  const base: StackSpec = { project: "p", networks: [{ name: "ai", internal: false }], volumes: ["data"], services: [] };
  const problems = (services: ServiceSpec[], publicBindAllowed?: string[]) => validateStackSpec({ ...base, services }, { publicBindAllowed });

  it("accepts a sound stack", () => {
    expect(
      problems([
        svc("a", { healthcheck: { test: ["CMD", "true"], interval: "1s", timeout: "1s", retries: 1, startPeriod: "1s" } }),
        svc("b", { dependsOnHealthy: ["a"], volumes: [{ volume: "data", path: "/d" }] }),
      ]),
    ).toEqual([]);
  });

  it("finds what Compose would refuse or what would break isolation", () => {
    expect(problems([svc("a"), svc("a")])).toContain("service a is defined twice");
    expect(problems([svc("a", { image: "x/y:latest" })])).toEqual(['service a: image "x/y:latest" needs an explicit version tag']);
    expect(problems([svc("a", { image: "x/y" })])).toEqual(['service a: image "x/y" needs an explicit version tag']);
    expect(problems([svc("a", { networks: ["nope"] })])).toEqual(["service a: network nope is not declared"]);
    expect(problems([svc("a", { volumes: [{ volume: "nope", path: "/x" }] })])).toEqual(["service a: volume nope is not declared"]);
    expect(
      problems([svc("a", { ports: [{ container: 1, host: 80, bind: "10.0.0.1" }] }), svc("b", { ports: [{ container: 2, host: 80, bind: "10.0.0.1" }] })]),
    ).toEqual(["service b: 10.0.0.1:80/tcp is already published by a"]);
    expect(problems([svc("a", { ports: [{ container: 1, host: 80, bind: "0.0.0.0" }] })])).toEqual([
      "service a: publishes 80 on every address; only the ingress may",
    ]);
    expect(problems([svc("a", { ports: [{ container: 1, host: 80, bind: "0.0.0.0" }] })], ["a"])).toEqual([]);
    expect(problems([svc("a", { dependsOnHealthy: ["b"] }), svc("b")])).toEqual(["service a: depends on b being healthy, but b has no healthcheck"]);
    expect(problems([svc("a", { dependsOnHealthy: ["ghost"] })])).toEqual(["service a: depends on unknown service ghost"]);
    const hc = { test: ["CMD", "true"], interval: "1s", timeout: "1s", retries: 1, startPeriod: "1s" };
    expect(problems([svc("a", { healthcheck: hc, dependsOnHealthy: ["b"] }), svc("b", { healthcheck: hc, dependsOnHealthy: ["a"] })])).toEqual([
      "dependency cycle: a → b → a",
    ]);
  });
});

describe("environment stacks", () => {
  it("private: Ollama on the GPU with every server setting explicit, the UI and Chroma, nothing beyond the VM's address", () => {
    const spec = environmentStack(env("private"), "private");
    expect(validateStackSpec(spec)).toEqual([]);
    expect(spec.services.map((s) => s.name)).toEqual(["ollama", "chroma", "open-webui", "gateway", "gpu-exporter"]);
    const ollama = spec.services[0];
    expect(ollama).toMatchObject({ gpu: true, image: "ollama/ollama:0.18.2", volumes: [{ volume: "ollama-models", path: "/root/.ollama" }] });
    expect(ollama.environment).toEqual({
      OLLAMA_HOST: "0.0.0.0:11434",
      OLLAMA_CONTEXT_LENGTH: "8192",
      OLLAMA_NUM_PARALLEL: "1",
      OLLAMA_MAX_LOADED_MODELS: "2",
      OLLAMA_KV_CACHE_TYPE: "q8_0",
      OLLAMA_FLASH_ATTENTION: "1",
      OLLAMA_KEEP_ALIVE: "-1",
      OLLAMA_GPU_OVERHEAD: String(512 * 1024 ** 2),
      OLLAMA_MAX_QUEUE: "64",
    });
    for (const p of spec.services.flatMap((s) => s.ports)) expect(["10.20.0.10", "127.0.0.1"]).toContain(p.bind);
    expect(spec.services[2].dependsOnHealthy).toEqual(["ollama"]);
    expect(spec.services[2].environment.WEBUI_SECRET_KEY).toEqual({ secret: "open-webui-secret-key" });
    expect(secretNames(spec)).toEqual(["open-webui-secret-key"]);
    // The UI and Chroma leave the VM only through the TLS gateway, each with its own certificate.
    const published = spec.services.flatMap((s) => s.ports.map((p) => `${s.name} ${p.bind}:${p.host}->${p.container}`));
    expect(published).toEqual([
      "ollama 127.0.0.1:11434->11434",
      "gateway 10.20.0.10:11434->11434",
      "gateway 10.20.0.10:3000->3000",
      "gateway 10.20.0.10:8000->8000",
      "gpu-exporter 10.20.0.10:9400->9400",
    ]);
    const gateway = spec.services[3];
    expect(gateway.files!.map((f) => f.path)).toEqual([
      "/etc/caddy/Caddyfile",
      "/etc/caddy/tls/ollama.crt",
      "/etc/caddy/tls/ollama.key",
      "/etc/caddy/tls/open-webui.crt",
      "/etc/caddy/tls/open-webui.key",
      "/etc/caddy/tls/chroma.crt",
      "/etc/caddy/tls/chroma.key",
    ]);
    expect(materialNames(spec)).toEqual([
      "tls-chroma-cert",
      "tls-chroma-key",
      "tls-ollama-cert",
      "tls-ollama-key",
      "tls-open-webui-cert",
      "tls-open-webui-key",
    ]);
    expect(gatewayRoutes(env("private"))).toEqual([
      { service: "ollama", port: 11434, upstream: "ollama:11434" },
      { service: "open-webui", port: 3000, upstream: "open-webui:8080" },
      { service: "chroma", port: 8000, upstream: "chroma:8000" },
    ]);
  });

  it("a VM without the NVIDIA stack asks Docker for no GPU: Ollama on the CPU, no DCGM exporter", () => {
    for (const stack of ["private", "public"] as const) {
      const raw = committedConfig(stack);
      const gpuVm = { ...JSON.parse(raw.values["ai-dualstack:gpuVm"]), nvidia: false };
      delete gpuVm.nvidiaDriverPackage;
      const spec = environmentStack(loadConfig(edit(raw, "gpuVm", [], gpuVm)).config as EnvironmentConfig, stack);
      expect(spec.services.filter((s) => s.gpu).map((s) => s.name)).toEqual([]);
      expect(spec.services.map((s) => s.name)).not.toContain("gpu-exporter");
      expect(spec.services.map((s) => s.name)).toContain("ollama");
    }
  });

  it("public: the ingress on 443 is the only port open beyond the VM; the chatbot sits behind it", () => {
    const spec = environmentStack(env("public"), "public");
    expect(validateStackSpec(spec, { publicBindAllowed: ["ingress"] })).toEqual([]);
    expect(validateStackSpec(spec)).toEqual(["service ingress: publishes 443 on every address; only the ingress may"]);
    expect(spec.services.map((s) => s.name)).toEqual(["ollama", "qdrant", "chatbot", "ingress", "gateway", "gpu-exporter"]);
    const published = spec.services.flatMap((s) => s.ports.map((p) => `${s.name} ${p.bind}:${p.host}`));
    // Qdrant on the VM's address for the tenants' collections through the TLS gateway (firewalled to management).
    expect(published).toEqual([
      "ollama 127.0.0.1:11434",
      "ingress 0.0.0.0:443",
      "gateway 10.30.0.10:11434",
      "gateway 10.30.0.10:6333",
      "gpu-exporter 10.30.0.10:9400",
    ]);
    expect(materialNames(spec)).toEqual(["tls-ollama-cert", "tls-ollama-key", "tls-qdrant-cert", "tls-qdrant-key"]);
    expect(spec.services.find((s) => s.name === "chatbot")!.environment).toMatchObject({
      VECTOR_DB: "qdrant",
      QDRANT_URI: "http://qdrant:6333",
      QDRANT_API_KEY: { secret: "qdrant-api-key" },
    });
    expect(spec.services.find((s) => s.name === "qdrant")!.environment).toMatchObject({ QDRANT__SERVICE__API_KEY: { secret: "qdrant-api-key" } });
    expect(secretNames(spec)).toEqual(["chatbot-secret-key", "qdrant-api-key"]);
    expect(spec.services.find((s) => s.name === "ingress")!.networks).toEqual(["edge"]);
    expect(spec.services.find((s) => s.name === "qdrant")!.networks).toEqual(["ai"]);
  });

  it("opens the VM-bound ports to the management IP set only", () => {
    expect(publishedPortRules(environmentStack(env("private"), "private"), "10.20.0.10").map((r) => `${r.source} ${r.dport}`)).toEqual([
      "+management 11434",
      "+management 3000",
      "+management 8000",
      "+management 9400",
    ]);
    expect(publishedPortRules(environmentStack(env("public"), "public"), "10.30.0.10").map((r) => `${r.source} ${r.dport}`)).toEqual([
      "+management 11434",
      "+management 6333",
      "+management 9400",
    ]);
  });

  it("labels containers as Compose does", () => {
    expect(composeLabels("private", "ollama")).toMatchObject({
      "com.docker.compose.project": "private",
      "com.docker.compose.service": "ollama",
      "com.docker.compose.oneoff": "False",
    });
  });

  it("maps flash attention off to 0", () => {
    expect(ollamaEnvironment({ ...env("public").ollama, flashAttention: false }).OLLAMA_FLASH_ATTENTION).toBe("0");
  });
});

describe("ingress Caddyfile", () => {
  const validate = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), "caddy-"));
    writeFileSync(join(dir, "Caddyfile"), text);
    return spawnSync(tool("caddy"), ["validate", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8" });
  };

  it("is valid for the real caddy, and serves only the configured hostname over TLS", () => {
    const text = renderCaddyfile({ sites: [{ hostname: "chat.example.org", upstream: "chatbot:8080" }], tls: "internal" });
    expect(text).toContain("https://chat.example.org {");
    expect(text).toContain("admin off");
    const r = validate(text);
    expect(r.error, "caddy is not installed: apt-get install caddy").toBeUndefined();
    expect(r.stdout + r.stderr).toContain("Valid configuration");
    expect(r.status).toBe(0);
  });

  it("the gateway's Caddyfile is valid for the real caddy (served for real in test/components/gateway-tls.test.ts)", () => {
    const sites = [{ service: "qdrant", port: 6333, upstream: "qdrant:6333", certFile: "/etc/caddy/tls/qdrant.crt", keyFile: "/etc/caddy/tls/qdrant.key" }];
    const text = renderGatewayCaddyfile(sites);
    expect(text).toContain("https://:6333 {\n\ttls /etc/caddy/tls/qdrant.crt /etc/caddy/tls/qdrant.key {\n\t\tprotocols tls1.3");
    expect(text).toContain("\treverse_proxy qdrant:6333 {\n\t\tflush_interval -1\n\t}");
    // Parsed by the real caddy (validation would load the certificates, which the real-server test provides).
    const dir = mkdtempSync(join(tmpdir(), "caddy-"));
    writeFileSync(join(dir, "Caddyfile"), text);
    const r = spawnSync(tool("caddy"), ["adapt", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).apps.http.servers.srv0.listen).toEqual([":6333"]);
    expect(() => renderGatewayCaddyfile([])).toThrow(/no sites/);
    expect(() => renderGatewayCaddyfile([...sites, { ...sites[0], service: "other" }])).toThrow(/port 6333 is used twice/);
    expect(() => renderGatewayCaddyfile([{ ...sites[0], upstream: "qdrant:6333\n}" }])).toThrow(/invalid upstream/);
    expect(() => renderGatewayCaddyfile([{ ...sites[0], keyFile: "/x y" }])).toThrow(/invalid file path/);
  });

  it("the check fails on a broken file, and the renderer refuses unsafe names", () => {
    expect(validate("https://x.example.org {\n\ttls bogus-mode extra\n\treverse_proxy\n").status).not.toBe(0);
    expect(() => renderCaddyfile({ sites: [{ hostname: "x.org }\n:80 {", upstream: "a:1" }], tls: "internal" })).toThrow(/invalid hostname/);
  });
});
