// The host's Vault setup and the KV provider against the real Vault (scripts/vault.sh builds it), run with the
// server configuration the program renders: the configuration objects are written by the vault-config provider,
// the environments' AppRoles reach their own mount and are denied the other's, an out-of-band edit shows as drift,
// the snapshot AppRole takes a real raft snapshot through the backup's snapshot script, and a kept secret survives
// its resource's deletion and a rebuild, is written back when deleted in Vault, and follows a rotation.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRoleCredentialsProvider, vaultConfigProvider, type AppRoleCredentialsState, type VaultConfigState } from "../../components/providers/vault-config";
import { vaultKvProvider, type VaultKvState } from "../../components/providers/vault-kv";
import { ADMIN_POLICY, appRoleOf, kvMountOf, PLATFORM_MOUNT, vaultObjects } from "../../lib/vault/access";
import { keptSecretProvider as kept, type KeptSecretInputs, type KeptSecretState } from "../../components/providers/kept-secret";
import { renderSnapshotScript, SNAPSHOT_APPROLE } from "../../lib/vault/snapshot";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { startVault, type RealVault } from "../helpers/real-vault";

let dir: string;
let ca: TestCa;
let vault: RealVault;
const states: Record<string, VaultConfigState> = {};
const creds: Record<string, AppRoleCredentialsState> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vault-it-"));
  ca = makeTestCa("test platform CA");
  vault = await startVault(dir, ca);
  const connection = { address: vault.address, token: vault.rootToken, caCert: ca.certPem };
  // Everything the host stack declares, in its order; AppRoles usable from loopback (the operators' network here).
  for (const { key, object } of vaultObjects(["private", "public"], [{ name: "file-test", path: join(dir, "audit.log") }], ["127.0.0.0/8"], "127.0.0.1")) {
    states[key] = (await vaultConfigProvider.create!({ ...connection, object })).outs as VaultConfigState;
  }
  for (const role of [appRoleOf("private"), appRoleOf("public"), SNAPSHOT_APPROLE]) {
    creds[role] = (await appRoleCredentialsProvider.create!({ ...connection, role })).outs as AppRoleCredentialsState;
  }
}, 120_000);

afterAll(async () => {
  await vault?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe("the Vault setup against the real Vault", () => {
  it("every declared object reads back as declared (no drift); a policy loosened by hand shows, and update restores it", async () => {
    for (const [key, state] of Object.entries(states)) {
      const read = (await vaultConfigProvider.read!(key, state)) as { props: VaultConfigState };
      expect(read.props.observed, key).toEqual(state.observed);
      const diff = await vaultConfigProvider.diff!(key, read.props, state);
      expect(diff.changes, key).toBe(false);
    }
    const key = "private-policy";
    expect(
      (await vault.call("PUT", "sys/policies/acl/ai-private", vault.rootToken, { policy: 'path "kv-public/data/*" { capabilities = ["read"] }' })).status,
    ).toBe(204);
    const drifted = (await vaultConfigProvider.read!(key, states[key])) as { props: VaultConfigState };
    expect((await vaultConfigProvider.diff!(key, drifted.props, states[key])).changes).toBe(true);
    await vaultConfigProvider.update!(key, drifted.props, states[key]);
    const policy = await vault.call("GET", "sys/policies/acl/ai-private", vault.rootToken);
    expect(policy.body.data.policy).not.toContain("kv-public");
  });

  it("an environment's AppRole writes its own mount through the KV provider and is denied the other's", async () => {
    const appRole = { roleId: creds[appRoleOf("private")].roleId, secretId: creds[appRoleOf("private")].secretId };
    const inputs = { address: vault.address, caCert: ca.certPem, appRole, mount: kvMountOf("private"), path: "services/open-webui", data: { value: "s3cret" } };
    const { id, outs } = (await vaultKvProvider.create!(inputs)) as { id: string; outs: VaultKvState };
    expect(outs.observed.version).toBe(1);
    const stored = await vault.call("GET", "kv-private/data/services/open-webui", vault.rootToken);
    expect(stored.body.data.data).toEqual({ value: "s3cret" });
    await expect(vaultKvProvider.create!({ ...inputs, mount: kvMountOf("public"), path: "services/stolen" })).rejects.toThrow(/permission denied|403/);

    // Overwritten out of band: read shows the change (drift), update writes the declared value back.
    await vault.call("POST", "kv-private/data/services/open-webui", vault.rootToken, { data: { value: "changed by hand" } });
    const read = (await vaultKvProvider.read!(id, outs)) as { props: VaultKvState };
    expect(read.props.observed.dataHash).not.toBe(outs.observed.dataHash);
    expect((await vaultKvProvider.diff!(id, read.props, inputs)).changes).toBe(true);
    await vaultKvProvider.update!(id, read.props, inputs);
    expect((await vault.call("GET", "kv-private/data/services/open-webui", vault.rootToken)).body.data.data).toEqual({ value: "s3cret" });
    await vaultKvProvider.delete!(id, outs);
  });

  it("the snapshot AppRole takes a real raft snapshot through the backup's script, and reads no secret", async () => {
    const c = creds[SNAPSHOT_APPROLE];
    writeFileSync(join(dir, "snapshot.approle"), `${c.roleId}\n${c.secretId}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "snap.sh"), renderSnapshotScript("127.0.0.1"), { mode: 0o700 });
    const r = spawnSync("bash", [join(dir, "snap.sh")], {
      env: {
        PATH: `${join(vault.binary, "..")}:${process.env.PATH}`,
        HOME: dir,
        VAULT_ADDR: vault.address,
        VAULT_CACERT: join(dir, "vault.d/tls/ca.crt"),
        AI_DUALSTACK_SNAPSHOT_CREDENTIALS: join(dir, "snapshot.approle"),
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.status, r.stderr.toString()).toBe(0);
    // A raft snapshot is a gzipped tar.
    expect(r.stdout.subarray(0, 2).toString("hex")).toBe("1f8b");
    expect(r.stdout.length).toBeGreaterThan(1000);
    const login = await vault.call("POST", "auth/approle/login", undefined, { role_id: c.roleId, secret_id: c.secretId });
    const token = login.body.auth.client_token;
    expect((await vault.call("GET", "kv-private/data/services/open-webui", token)).status).toBe(403);
  });

  it("a kept secret: written once, adopted by a rebuilt stack, never deleted, written back from the state, rotated in Vault", async () => {
    const role = (env: "private" | "public") => ({ roleId: creds[appRoleOf(env)].roleId, secretId: creds[appRoleOf(env)].secretId });
    const at = (extra: Partial<KeptSecretInputs>): KeptSecretInputs => ({
      address: vault.address,
      caCert: ca.certPem,
      appRole: role("private"),
      mount: kvMountOf("private"),
      path: "kept/private-services-neo4j-password",
      candidate: "first-candidate-0123456789",
      ...extra,
    });
    const stored = async () => (await vault.call("GET", "kv-private/data/kept/private-services-neo4j-password", vault.rootToken)).body.data?.data;
    const first = (await kept.create!(at({}))) as { id: string; outs: KeptSecretState };
    expect(first.outs).toMatchObject({ value: "first-candidate-0123456789", observed: { version: 1, source: "written" } });
    expect(await stored()).toEqual({ value: "first-candidate-0123456789" });

    // Torn down: Vault keeps it. Rebuilt: the new candidate is not used, the kept value is.
    await kept.delete!(first.id, first.outs);
    expect(await stored()).toEqual({ value: "first-candidate-0123456789" });
    const rebuilt = (await kept.create!(at({ candidate: "second-candidate-0123456789" }))) as { id: string; outs: KeptSecretState };
    expect(rebuilt.outs).toMatchObject({ value: "first-candidate-0123456789", observed: { version: 1, source: "adopted" } });
    expect((await kept.diff!(rebuilt.id, rebuilt.outs, at({ candidate: "third-candidate-0123456789" }))).changes).toBe(false);

    // Deleted in Vault behind Pulumi's back: refresh notices, the next up writes the state's copy back on top.
    expect((await vault.call("DELETE", "kv-private/data/kept/private-services-neo4j-password", vault.rootToken)).status).toBe(204);
    const refreshed = (await kept.read!(rebuilt.id, rebuilt.outs)) as { id: string; props: KeptSecretState };
    expect(refreshed.id).toBe(rebuilt.id);
    expect(refreshed.props.observed.missing).toBe(true);
    expect((await kept.diff!(rebuilt.id, refreshed.props, at({}))).changes).toBe(true);
    const restored = (await kept.update!(rebuilt.id, refreshed.props, at({}))) as { outs: KeptSecretState };
    expect(restored.outs).toMatchObject({ value: "first-candidate-0123456789", observed: { version: 2 } });
    expect(await stored()).toEqual({ value: "first-candidate-0123456789" });

    // A rotation writes a new version in Vault: refresh takes it.
    await vault.call("POST", "kv-private/data/kept/private-services-neo4j-password", vault.rootToken, { data: { value: "rotated-value-0123456789" } });
    const rotated = (await kept.read!(rebuilt.id, restored.outs)) as { props: KeptSecretState };
    expect(rotated.props).toMatchObject({ value: "rotated-value-0123456789", observed: { version: 3 } });

    // Two stacks racing for the same place keep one value between them (check-and-set).
    const race = await Promise.all(
      ["race-a-0123456789abcdef", "race-b-0123456789abcdef"].map((candidate) => kept.create!(at({ path: "kept/race", candidate }))),
    );
    expect(new Set(race.map((r) => (r.outs as KeptSecretState).value)).size).toBe(1);

    // The other environment cannot read or write it; errors never carry a value.
    const denied = await kept.create!(at({ appRole: role("public") })).catch((e: Error) => e);
    expect(String(denied)).toMatch(/permission denied|403/);
    expect(String(denied)).not.toContain("rotated-value");
  });

  it("the host's administrator keeps its own secrets in kv-platform and reads no environment's", async () => {
    const issued = await vault.call("POST", "auth/token/create", vault.rootToken, { policies: [ADMIN_POLICY], no_default_policy: true, ttl: "10m" });
    const admin = issued.body.auth.client_token as string;
    const i: KeptSecretInputs = {
      address: vault.address,
      caCert: ca.certPem,
      token: admin,
      mount: PLATFORM_MOUNT,
      path: "kept/platform-restic-public-password",
      candidate: "restic-repository-password-0123",
    };
    const { outs } = (await kept.create!(i)) as { outs: KeptSecretState };
    expect(outs.observed.source).toBe("written");
    expect((await kept.create!({ ...i, candidate: "another-candidate-0123456789" })).outs).toMatchObject({ value: "restic-repository-password-0123" });
    expect((await vault.call("GET", "kv-private/data/kept/private-services-neo4j-password", admin)).status).toBe(403);
    expect((await vault.call("GET", `${PLATFORM_MOUNT}/data/services/other`, admin)).status).toBe(403);
  });
});
