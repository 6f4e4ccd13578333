import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/config";

describe("dynamic providers serialise in a plain node process", () => {
  it("the Ollama model provider: serialised, revived, and run against a server", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "test/serialization/check-providers.ts")], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(result).toMatchObject({ provider: "ollama", containsSecrets: false, capturesViteModules: false, deleted: true });
    // Only packages are required at run time; no module of this project is captured by reference.
    expect(result.requires).toEqual(['require("@pulumi/pulumi")', 'require("ollama")']);
    expect(result.readDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(result.bytes).toBeLessThan(64 * 1024);
  }, 90_000);
});
