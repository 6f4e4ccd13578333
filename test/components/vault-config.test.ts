// Vault's configuration objects and AppRole credentials (components/providers/vault-config.ts) against a local server
// implementing the API subset they use (test/helpers/fake-vault.ts): the whole host setup, drift after changes by
// hand, adoption and refusal of existing objects, deletion rules, and errors that never show the token.
import { afterEach, describe, expect, it } from "vitest";
import {
  appRoleCredentialsProvider as creds,
  vaultConfigProvider as p,
  type AppRoleCredentialsState,
  type VaultConfigInputs,
  type VaultConfigState,
} from "../../components/providers/vault-config";
import { vaultObjects, type VaultObject } from "../../lib/vault/access";
import { auditLogPaths } from "../../lib/vault/server";
import { startFakeVault, type FakeVault } from "../helpers/fake-vault";

let vault: FakeVault | undefined;
afterEach(async () => {
  await vault?.close();
  vault = undefined;
});

const OBJECTS = vaultObjects(["private", "public"], auditLogPaths("/var/lib/vault"), ["192.168.10.0/28"], "10.10.0.10");
const objectOf = (key: string) => OBJECTS.find((o) => o.key === key)!.object;
const inputs = (v: FakeVault, object: VaultObject): VaultConfigInputs => ({ address: v.url, token: v.token, object });

async function setUp(v: FakeVault): Promise<Record<string, { id: string; outs: VaultConfigState }>> {
  const out: Record<string, { id: string; outs: VaultConfigState }> = {};
  for (const { key, object } of OBJECTS) out[key] = (await p.create(inputs(v, object))) as { id: string; outs: VaultConfigState };
  return out;
}

describe("Vault configuration objects", () => {
  it("sets up the whole declared configuration, and a second look finds nothing to change", async () => {
    vault = await startFakeVault([]);
    const made = await setUp(vault);
    expect([...vault.config.audits.keys()]).toEqual(["file-system", "file-data"]);
    expect(vault.config.audits.get("file-data")).toEqual({ type: "file", options: { file_path: "/var/lib/vault/audit/audit.log", mode: "0600" } });
    expect(vault.config.mounts.get("kv-private")).toMatchObject({ type: "kv", options: { version: "2" }, maxVersions: 10 });
    expect(vault.config.policies.get("ai-public")).toContain('path "kv-public/data/*"');
    expect(vault.config.roles.get("ai-public")!.settings).toMatchObject({ token_policies: ["ai-public"], token_type: "batch" });
    for (const { key, object } of OBJECTS) {
      const { id, outs } = made[key];
      expect(id).toBe(`${object.kind}:${object.kind === "policy" || object.kind === "approle" ? object.name : object.path}@${vault.url}`);
      const read = (await p.read!(id, outs)).props as VaultConfigState;
      expect((await p.diff!(id, read, inputs(vault, object))).changes, key).toBe(false);
    }
  });

  it("refresh shows a policy edited and an audit device disabled by hand; update puts them back", async () => {
    vault = await startFakeVault([]);
    const made = await setUp(vault);
    vault.config.policies.set("ai-public", 'path "kv-private/*" { capabilities = ["read"] }');
    vault.config.audits.delete("file-data");
    const policy = (await p.read!(made["public-policy"].id, made["public-policy"].outs)).props as VaultConfigState;
    expect((await p.diff!(made["public-policy"].id, policy, inputs(vault, objectOf("public-policy")))).changes).toBe(true);
    await p.update!(made["public-policy"].id, policy, inputs(vault, objectOf("public-policy")));
    expect(vault.config.policies.get("ai-public")).not.toContain("kv-private");
    const audit = await p.read!(made["audit-file-data"].id, made["audit-file-data"].outs);
    expect(audit).toEqual({ id: "", props: {} }); // gone: the next up creates it again
  });

  it("a loosened AppRole is tightened again", async () => {
    vault = await startFakeVault([]);
    const made = await setUp(vault);
    vault.config.roles.get("ai-private")!.settings.secret_id_bound_cidrs = [];
    const { id, outs } = made["private-approle"];
    const read = (await p.read!(id, outs)).props as VaultConfigState;
    expect((await p.diff!(id, read, inputs(vault, objectOf("private-approle")))).changes).toBe(true);
    await p.update!(id, read, inputs(vault, objectOf("private-approle")));
    expect(vault.config.roles.get("ai-private")!.settings.secret_id_bound_cidrs).toEqual(["192.168.10.0/28"]);
  });

  it("adopts an existing KV v2 mount (secrets kept), refuses a mount of another kind", async () => {
    vault = await startFakeVault(["kv-public"]);
    vault.overwrite("kv-public/tenants/acme", { url: "kept" });
    await p.create(inputs(vault, objectOf("public-mount")));
    expect(vault.secrets.get("kv-public/tenants/acme")).toHaveLength(1);
    expect(vault.config.mounts.get("kv-public")).toMatchObject({ description: "secrets of the public environment (ai-dualstack)", maxVersions: 10 });
    vault.config.mounts.set("kv-private", { type: "kv", options: { version: "1" }, description: "", maxVersions: 0 });
    const err = await p.create(inputs(vault, objectOf("private-mount"))).catch((e) => e);
    expect(err.message).toBe(
      `Vault kv-mount kv-private at ${vault.url}: a kv mount (version 1) already exists there; refusing to touch it (it may hold secrets). Move it away or choose another environment mount.`,
    );
  });

  it("deletes policies, roles and audit devices, never a mount or an auth method", async () => {
    vault = await startFakeVault([]);
    const made = await setUp(vault);
    await p.delete!(made["private-policy"].id, made["private-policy"].outs);
    expect(vault.config.policies.has("ai-private")).toBe(false);
    const err = await p.delete!(made["private-mount"].id, made["private-mount"].outs).catch((e) => e);
    expect(err.message).toContain("not deleted by ai-dualstack (it holds data). Disable it by hand if you mean it: vault secrets disable kv-private");
    expect(vault.config.mounts.has("kv-private")).toBe(true);
    const auth = await p.delete!(made["auth-approle"].id, made["auth-approle"].outs).catch((e) => e);
    expect(auth.message).toContain("vault auth disable approle");
  });

  it("changing an object's identity replaces it; check refuses bad input by property", async () => {
    vault = await startFakeVault([]);
    const made = await setUp(vault);
    const renamed = { ...objectOf("private-policy"), name: "ai-private-2" } as VaultObject;
    expect((await p.diff!(made["private-policy"].id, made["private-policy"].outs, inputs(vault, renamed))).replaces).toEqual(["object"]);
    const checked = await p.check!({}, { address: "vault:8200", token: "", object: { kind: "policy", name: "../x", policy: "" } });
    expect(checked.failures!.map((f) => f.property)).toEqual(["address", "token", "object"]);
  });

  it("errors name the operation and Vault's words, never the token", async () => {
    vault = await startFakeVault([]);
    vault.fault = { match: "sys/policies", status: 500, errors: ["storage is sealed"], times: 5 };
    const err = await p.create(inputs(vault, objectOf("policy-admin"))).catch((e) => e);
    expect(err.message).toBe(`Vault GET sys/policies/acl/dualstack-admin at ${vault.url} failed: storage is sealed (HTTP 500)`);
    expect(err.message).not.toContain(vault.token);
    vault.fault = undefined;
    const denied = await p.create({ ...inputs(vault, objectOf("policy-admin")), token: "hvs.wrong" }).catch((e) => e);
    expect(denied.message).toBe(`Vault GET sys/policies/acl/dualstack-admin at ${vault.url} failed: permission denied (HTTP 403)`);
  });
});

describe("AppRole credentials", () => {
  it("issues a role_id and a SecretID; refresh finds a SecretID destroyed by hand; delete destroys it", async () => {
    vault = await startFakeVault([]);
    await setUp(vault);
    const i = { address: vault.url, token: vault.token, role: "ai-public" };
    const { id, outs } = (await creds.create(i)) as { id: string; outs: AppRoleCredentialsState };
    expect(outs.roleId).toBe(vault.config.roles.get("ai-public")!.roleId);
    expect(vault.config.secretIds.get(outs.accessor)).toEqual({ role: "ai-public", secretId: outs.secretId });
    expect(id).not.toContain(outs.secretId);
    expect(await creds.read!(id, outs)).toEqual({ id, props: outs });
    vault.config.secretIds.delete(outs.accessor);
    expect(await creds.read!(id, outs)).toEqual({ id: "", props: {} });
    const again = (await creds.create(i)) as { id: string; outs: AppRoleCredentialsState };
    await creds.delete!(again.id, again.outs);
    expect(vault.config.secretIds.size).toBe(0);
  });

  it("a role recreated by hand (new role_id) shows as gone; a missing role is a clear error", async () => {
    vault = await startFakeVault([]);
    await setUp(vault);
    const i = { address: vault.url, token: vault.token, role: "ai-private" };
    const { id, outs } = (await creds.create(i)) as { id: string; outs: AppRoleCredentialsState };
    vault.config.roles.get("ai-private")!.roleId = "role-recreated";
    expect((await creds.read!(id, outs)).id).toBe("");
    const err = await creds.create({ ...i, role: "ai-nobody" }).catch((e) => e);
    expect(err.message).toBe(`Vault AppRole ai-nobody at ${vault.url}: no such role`);
  });
});
