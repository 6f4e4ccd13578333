// The kept-secret provider against the Vault API stand-in, for what the real Vault will not readily do: faults, a
// foreign value at the place, a value kept elsewhere when the place moves, and the checks. The lifecycle against the
// real Vault is in test/integration/vault.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { keptSecretProvider as p, type KeptSecretInputs, type KeptSecretState } from "../../components/providers/kept-secret";
import { startFakeVault, type FakeVault } from "../helpers/fake-vault";

let vault: FakeVault | undefined;
afterEach(async () => {
  await vault?.close();
  vault = undefined;
});

const CANDIDATE = "candidate-that-must-never-be-shown-0123";
const inputs = (v: FakeVault, extra: Partial<KeptSecretInputs> = {}): KeptSecretInputs => ({
  address: v.url,
  token: v.token,
  mount: "kv-public",
  path: "kept/public-services-qdrant-api-key",
  candidate: CANDIDATE,
  ...extra,
});

describe("kept secret", () => {
  it("checks its inputs: Vault's URL, a plain path, a way to log in, a candidate worth keeping", async () => {
    const { failures } = await p.check!(
      {} as KeptSecretInputs,
      {
        address: "vault:8200",
        mount: "kv-public",
        path: "kept/../x",
        candidate: "short",
      } as KeptSecretInputs,
    );
    expect(failures!.map((f) => f.property)).toEqual(["address", "path", "appRole", "candidate"]);
    expect(JSON.stringify(failures)).not.toContain("short");
  });

  it("Vault's errors name the place and Vault's words, never the candidate or the token", async () => {
    vault = await startFakeVault();
    vault.fault = { match: "/kept/", status: 500, errors: ["internal error"], times: 1 };
    const err = await p.create!(inputs(vault)).catch((e: Error) => e);
    expect(String(err)).toBe(`Error: Vault GET kv-public/kept/public-services-qdrant-api-key at ${vault.url} failed: internal error (HTTP 500)`);
    expect(String(err)).not.toContain(vault.token);
  });

  it("a secret at the place that is not a kept one (no value key) is refused, not overwritten", async () => {
    vault = await startFakeVault();
    vault.overwrite("kv-public/kept/public-services-qdrant-api-key", { other: "x" });
    const err = await p.create!(inputs(vault)).catch((e: Error) => e);
    expect(String(err)).toContain('the secret there has no "value" key');
    expect(vault.secrets.get("kv-public/kept/public-services-qdrant-api-key")).toHaveLength(1);
  });

  it("moved to another place, it takes its value there; one already kept there with another value is refused", async () => {
    vault = await startFakeVault();
    const { id, outs } = (await p.create!(inputs(vault))) as { id: string; outs: KeptSecretState };
    const moved = inputs(vault, { path: "kept/renamed", candidate: "another-candidate-0123456789" });
    expect((await p.diff!(id, outs, moved)).changes).toBe(true);
    const up = (await p.update!(id, outs, moved)) as { outs: KeptSecretState };
    expect(up.outs.value).toBe(CANDIDATE);
    expect(vault.secrets.get("kv-public/kept/renamed")!.at(-1)!.data).toEqual({ value: CANDIDATE });
    vault.overwrite("kv-public/kept/elsewhere", { value: "a-different-kept-value-0123" });
    const clash = await p.update!(id, outs, inputs(vault, { path: "kept/elsewhere" })).catch((e: Error) => e);
    expect(String(clash)).toContain("already keeps another value than this stack's");
    expect(String(clash)).not.toContain("a-different-kept-value");
  });

  it("a write that loses a check-and-set race adopts the winner's value", async () => {
    vault = await startFakeVault();
    // The first write is answered as if another writer had got there first, whose value is then in Vault.
    const place = "kv-public/kept/public-services-qdrant-api-key";
    let raced = false;
    const original = vault.log.push.bind(vault.log);
    vault.log.push = (line: string) => {
      if (!raced && line.startsWith("POST ") && line.includes("/data/kept/")) {
        raced = true;
        vault!.overwrite(place, { value: "the-winner-0123456789abcdef" });
        vault!.fault = { match: "/data/kept/", status: 400, errors: ["check-and-set parameter did not match the current version"], times: 1 };
      }
      return original(line);
    };
    const { outs } = (await p.create!(inputs(vault))) as { outs: KeptSecretState };
    expect(raced).toBe(true);
    expect(outs).toMatchObject({ value: "the-winner-0123456789abcdef", observed: { source: "adopted" } });
  });
});
