// The Vault KV v2 provider against a local server implementing the API subset it uses, with faults.
import { freePort } from "../helpers/servers";
import { afterEach, describe, expect, it } from "vitest";
import { __test, vaultKvProvider as p, type VaultKvInputs, type VaultKvState } from "../../components/providers/vault-kv";
import { startFakeVault, type FakeVault } from "../helpers/fake-vault";

let vault: FakeVault | undefined;
afterEach(async () => {
  await vault?.close();
  vault = undefined;
});

const SECRET = "s3cr3t-value-that-must-never-be-shown";
const inputs = (v: FakeVault, extra: Partial<VaultKvInputs> = {}): VaultKvInputs => ({
  address: v.url,
  token: v.token,
  mount: "kv-public",
  path: "services/chatbot",
  data: { WEBUI_SECRET_KEY: SECRET },
  ...extra,
});

describe("Vault KV secret", () => {
  it("creates with check-and-set 0 and reports version and a hash of the data, not the data", async () => {
    vault = await startFakeVault();
    const { id, outs } = (await p.create(inputs(vault))) as { id: string; outs: VaultKvState };
    expect(id).toBe(`kv-public/services/chatbot@${vault.url}`);
    expect(outs.observed).toEqual({ version: 1, createdTime: "2026-11-21T10:00:00.000Z", dataHash: __test.canonicalHash({ WEBUI_SECRET_KEY: SECRET }) });
    expect(JSON.stringify(outs.observed)).not.toContain(SECRET);
  });

  it("never overwrites an existing secret on create", async () => {
    vault = await startFakeVault();
    vault.overwrite("kv-public/services/chatbot", { other: "x" });
    const err = await p.create(inputs(vault)).catch((e) => e);
    expect(err.message).toBe(
      `Vault kv-public/services/chatbot at ${vault.url} already holds a secret (version 1): import it into the stack, or delete it in Vault first; it is not overwritten`,
    );
    expect(err.message).not.toContain(SECRET);
    expect(vault.secrets.get("kv-public/services/chatbot")!.at(-1)!.data).toEqual({ other: "x" });
  });

  it("a secret deleted softly (a destroyed stack) is created again as a new version on top, its history kept", async () => {
    vault = await startFakeVault();
    const { id, outs } = (await p.create(inputs(vault))) as { id: string; outs: VaultKvState };
    await p.delete!(id, outs);
    const again = (await p.create(inputs(vault))) as { outs: VaultKvState };
    expect(again.outs.observed.version).toBe(2);
  });

  it("refresh finds a secret overwritten or deleted behind Pulumi's back; update restores it with CAS", async () => {
    vault = await startFakeVault();
    const i = inputs(vault);
    const { id, outs } = (await p.create(i)) as { id: string; outs: VaultKvState };
    expect((await p.diff!(id, outs, i)).changes).toBe(false);
    vault.overwrite("kv-public/services/chatbot", { WEBUI_SECRET_KEY: "tampered" });
    const refreshed = (await p.read!(id, outs)).props as VaultKvState;
    expect(refreshed.observed.version).toBe(2);
    expect(__test.drifted(i, outs.observed, refreshed.observed)).toEqual(["version", "data"]);
    expect(await p.diff!(id, refreshed, i)).toMatchObject({ changes: true, replaces: [] });
    const restored = (await p.update!(id, refreshed, i)).outs as VaultKvState;
    expect(restored.observed).toMatchObject({ version: 3, dataHash: __test.canonicalHash(i.data) });
    expect(vault.log.filter((l) => l.startsWith("POST"))).toHaveLength(2);

    await p.delete!(id, restored);
    expect(await p.read!(id, restored)).toEqual({ id: "", props: {} });
    // Soft delete: the versions are still there to undelete.
    expect(vault.secrets.get("kv-public/services/chatbot")).toHaveLength(3);
  });

  it("logs in with the environment's AppRole and keeps no token in the state", async () => {
    vault = await startFakeVault();
    const i = inputs(vault, { token: undefined, appRole: vault.appRole });
    const { id, outs } = (await p.create(i)) as { id: string; outs: VaultKvState };
    expect(outs.observed.version).toBe(1);
    expect(JSON.stringify(outs)).not.toContain(vault.token);
    expect((await p.read!(id, outs)).id).toBe(id);
    expect(vault.log.filter((l) => l === "POST /v1/auth/approle/login")).toHaveLength(2);
    const wrong = await p
      .create(inputs(vault, { token: undefined, appRole: { roleId: vault.appRole.roleId, secretId: "stolen" }, path: "other" }))
      .catch((e) => e);
    expect(wrong.message).toBe(`Vault AppRole login at ${vault.url} failed: invalid role or secret ID (HTTP 400)`);
    expect((await p.check!({}, inputs(vault, { token: undefined }))).failures?.map((f) => f.property)).toEqual(["appRole"]);
  });

  it("destroy mode removes every version", async () => {
    vault = await startFakeVault();
    const { id, outs } = (await p.create(inputs(vault, { deleteMode: "destroy" }))) as { id: string; outs: VaultKvState };
    await p.delete!(id, outs);
    expect(vault.secrets.has("kv-public/services/chatbot")).toBe(false);
  });

  it("names Vault's error on a denied token or a 5xx, never the value", async () => {
    vault = await startFakeVault();
    const denied = await p.create(inputs(vault, { token: "wrong" })).catch((e) => e);
    expect(denied.message).toBe(`Vault GET kv-public/services/chatbot at ${vault.url} failed: permission denied (HTTP 403)`);
    vault.fault = { match: "/data/", status: 503, errors: ["Vault is sealed"], times: 1 };
    const sealed = await p.create(inputs(vault)).catch((e) => e);
    expect(sealed.message).toBe(`Vault POST kv-public/services/chatbot at ${vault.url} failed: Vault is sealed (HTTP 503)`);
    expect(`${denied.message}${sealed.message}`).not.toContain(SECRET);
  });

  it("says Vault cannot be reached when the connection is refused", async () => {
    const port = await freePort();
    const err = await p.create({ address: `http://127.0.0.1:${port}`, token: "t", mount: "kv-public", path: "a", data: { k: "v" } }).catch((e) => e);
    expect(err.message).toBe(`Vault GET kv-public/a at http://127.0.0.1:${port}: cannot reach Vault (ECONNREFUSED)`);
  });

  it("refuses paths that escape the mount, before any request", async () => {
    vault = await startFakeVault();
    const bad = await p.check!({}, inputs(vault, { path: "../kv-private/services/x" }));
    expect(bad.failures?.map((f) => f.property)).toEqual(["path"]);
    await expect(p.create(inputs(vault, { mount: "kv-public/../sys" }))).rejects.toThrow(/not a plain path segment/);
    expect(vault.log).toEqual([]);
  });
});
