// `dualstack rotate` through main(), against the Vault API stand-in (test/helpers/fake-vault.ts) and a scripted
// workspace: the list of kept secrets, the refusals (nothing written), a rotation written with check-and-set and
// then taken to the consumers by `up --refresh`, and a failed update that says where things stand.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../ops/cli";
import type { StackWorkspace } from "../../ops/workspace";
import { newValue } from "../../ops/rotate";
import { startFakeVault, type FakeVault } from "../helpers/fake-vault";

const SECRET = "public-services-qdrant-api-key";
const PATH = `kv-public/kept/${SECRET}`;
const NEW = "rotated-value-that-must-never-be-printed-0123";

let vault: FakeVault;
let ups: { stack: string; refresh?: boolean }[];
let upFails: boolean;

const workspace = (): StackWorkspace =>
  ({
    up: async (stack: string, _p: unknown, options?: { refresh?: boolean }) => {
      ups.push({ stack, refresh: options?.refresh });
      if (upFails) throw new Error("the engine said no");
    },
  }) as unknown as StackWorkspace;

async function dualstack(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) }, { workspace: workspace(), rotateValue: NEW });
  return { code, out, err };
}

beforeEach(async () => {
  vault = await startFakeVault();
  vault.overwrite(PATH, { value: "the-value-kept-before-0123456789" });
  process.env.VAULT_ADDR = vault.url;
  process.env.VAULT_TOKEN = vault.token;
  ups = [];
  upFails = false;
});
afterEach(async () => {
  delete process.env.VAULT_ADDR;
  delete process.env.VAULT_TOKEN;
  await vault.close();
});

describe("dualstack rotate", () => {
  it("without a secret lists the stack's kept secrets, how each is rotated and what it guards", async () => {
    const r = await dualstack("rotate", "public");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^public-postgres-admin-password\s+reapplied\s+the data LXC's administrator/m);
    expect(r.out).toMatch(/^public-services-qdrant-api-key\s+reapplied\s+Qdrant's API key/m);
    expect(r.out).toMatch(/^public-tenants-acme-postgres-password\s+reapplied/m);
    expect(r.out).not.toContain("unknown");
  });

  it("the host's kept secrets are those it keeps once Vault is set up: the restic repositories' and Grafana's", async () => {
    const r = await dualstack("rotate", "host");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^platform-monitoring-grafana-admin-password\s+by-hand\s+Grafana's administrator/m);
    expect(r.out).toMatch(/^platform-restic-public-password\s+by-hand\s+a restic repository's encryption/m);
    expect(r.out).toMatch(/^platform-restic-public-key-public\s+by-hand\s+the restic clients' SSH key/m);
    expect(r.out).not.toContain("unknown");
  });

  it("writes a new version with check-and-set, then runs up --refresh; the value is never printed", async () => {
    const r = await dualstack("rotate", "public", SECRET, "--yes");
    expect(r.err + r.out).not.toContain(NEW);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`${SECRET}: rotated (version 2 in ${PATH}); every consumer has it\n`);
    expect(vault.secrets.get(PATH)!.map((v) => v.data)).toEqual([{ value: "the-value-kept-before-0123456789" }, { value: NEW }]);
    expect(ups).toEqual([{ stack: "public", refresh: true }]);
  });

  it("a failed update after the write says the value is in Vault and how to go on", async () => {
    upFails = true;
    const r = await dualstack("rotate", "public", SECRET, "--yes");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${SECRET}: the new value is in Vault (version 2), but pulumi up --refresh --stack public failed: the engine said no.`);
    expect(r.err).not.toContain(NEW);
  });

  it.each([
    ["public-services-qdrant-api-key-x", /stack public keeps no secret "public-services-qdrant-api-key-x"; its kept secrets: public-postgres-admin-password, /],
    ["public-tenants-acme-redis-password-kept", /keeps no secret/],
  ])("refuses %s: not a kept secret (exit 2, nothing written)", async (name, message) => {
    const r = await dualstack("rotate", "public", name, "--yes");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(vault.secrets.get(PATH)).toHaveLength(1);
    expect(ups).toEqual([]);
  });

  it("refuses a secret held in the service's own data, and one that encrypts stored data, naming what to do", async () => {
    const config = "examples/catalog/Pulumi.private.yaml";
    const byHand = await dualstack("rotate", "private", "private-services-neo4j-password", "--yes", "--config", config);
    expect(byHand.code).toBe(2);
    expect(byHand.err).toContain(
      "private-services-neo4j-password is rotated by hand: it guards Neo4j's NEO4J_AUTH, read only at its first start and then held in its data volume. Change it in the service first",
    );
    expect(byHand.err).toContain("kv-private/kept/private-services-neo4j-password");
    const never = await dualstack("rotate", "private", "private-services-langfuse-encryption-key-hex", "--yes", "--config", config);
    expect(never.code).toBe(2);
    expect(never.err).toContain("is never rotated: it guards Langfuse's ENCRYPTION_KEY");
    expect(ups).toEqual([]);
  });

  it("without VAULT_TOKEN, or without --yes and a terminal, touches nothing", async () => {
    delete process.env.VAULT_TOKEN;
    const noToken = await dualstack("rotate", "public", SECRET, "--yes");
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain("VAULT_TOKEN: expected an operator's Vault token that may write kv-public/kept/public-services-qdrant-api-key");
    process.env.VAULT_TOKEN = vault.token;
    const noTerminal = await dualstack("rotate", "public", SECRET);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.err).toContain("give --yes");
    expect(vault.secrets.get(PATH)).toHaveLength(1);
  });

  it("a value never written (the stack not yet up) is refused: nothing to rotate", async () => {
    vault.secrets.delete(PATH);
    const r = await dualstack("rotate", "public", SECRET, "--yes");
    expect(r.code).toBe(2);
    expect(r.err).toContain("holds no value yet: run pulumi up --stack public first");
  });

  it("new values have the generated one's form", () => {
    expect(newValue({ kind: "password", length: 40 })).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(newValue({ kind: "hex", bytes: 32 })).toMatch(/^[0-9a-f]{64}$/);
    expect(newValue({ kind: "password", length: 40 })).not.toBe(newValue({ kind: "password", length: 40 }));
  });
});
