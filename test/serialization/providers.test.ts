import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/config";

let results: Record<string, any>;
beforeAll(() => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "test/serialization/check-providers.ts")], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`check-providers failed (${r.status}):\n${r.stderr}`);
  results = JSON.parse(r.stdout.trim().split("\n").pop()!);
}, 150_000);

describe("dynamic providers serialise in a plain node process and work once revived", () => {
  it.each([
    ["ollama", ['require("@pulumi/pulumi")', 'require("ollama")', 'require("undici")']],
    ["postgres", ['require("pg")']],
    ["redis", ['require("ioredis")', 'require("node:crypto")']],
    ["vault", ['require("node:crypto")', 'require("node:http")', 'require("node:https")']],
    ["qdrant", ['require("node:http")', 'require("node:https")']],
    ["vaultConfig", ['require("node:http")', 'require("node:https")']],
    ["vaultAppRole", ['require("node:http")', 'require("node:https")']],
  ])("%s", (name, requires) => {
    const r = results[name];
    expect(r).toMatchObject({ containsSecrets: false, capturesViteModules: false, goneAfterDelete: true });
    // Only packages are required at run time; no module of this project is captured by reference.
    expect(r.requires).toEqual([...requires].sort());
    expect(r.bytes).toBeLessThan(64 * 1024);
  });

  it("kept: only Node's http(s) at run time; the revived copy adopts the value it kept before its deletion", () => {
    expect(results.kept).toMatchObject({ containsSecrets: false, capturesViteModules: false, value: "candidate-one-0123456789", source: "adopted" });
    expect(results.kept.requires).toEqual(['require("node:http")', 'require("node:https")']);
    expect(results.kept.bytes).toBeLessThan(64 * 1024);
  });

  it("firstBoot: only ssh2 at run time, and the revived copy completes against an SSH server", () => {
    expect(results.firstBoot).toMatchObject({ containsSecrets: false, capturesViteModules: false, bootId: "engine-test-stand-in" });
    expect(results.firstBoot.requires).toEqual(['require("ssh2")']);
  });

  it("the revived copies saw the real servers", () => {
    expect(results.ollama.observed.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(results.postgres.observed).toMatchObject({ roleExists: true, databaseExists: true, passwordWorks: true });
    expect(results.redis.observed).toMatchObject({ exists: true, passwordMatches: true });
    expect(results.vault.observed).toMatchObject({ version: 1 });
    expect(results.vaultConfig.observed).toEqual({ policy: 'path "kv-public/data/*" { capabilities = ["read"] }' });
    expect(results.vaultAppRole.issued).toBe(true);
    expect(results.qdrant.observed).toEqual({ exists: true, vectorSize: 8, distance: "Cosine", points: 0 });
  });
});
