// The Redis tenant provider against a real Redis server (Debian's redis-server), started on loopback.
import { readFileSync } from "node:fs";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { __test, redisTenantProvider as p, type RedisTenantInputs, type RedisTenantState } from "../../components/providers/redis-tenant";
import { tenantObjects } from "../../lib/tenancy";
import { startRedis, type Redis as RedisServer } from "../helpers/servers";
import { keepingData } from "../helpers/keep-data";

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
}, 30_000);
afterAll(async () => server?.stop());

function inputs(name: string, extra: Partial<RedisTenantInputs> = {}): RedisTenantInputs {
  const o = tenantObjects(name);
  return {
    tenant: name,
    user: o.redisUser,
    keyPattern: o.redisKeyPattern,
    password: `pw-${name}-0123456789abcdef`,
    onDelete: "retain",
    admin: { host: server.host, port: server.port, password: server.password },
    ...extra,
  };
}
const admin = () => new Redis({ host: server.host, port: server.port, password: server.password });
const as = (i: RedisTenantInputs) => new Redis({ host: server.host, port: server.port, username: i.user, password: i.password, maxRetriesPerRequest: 0 });

describe("Redis tenant", () => {
  it("creates a user that reaches only its own keys and no admin command", async () => {
    const i = inputs("acme");
    const { id, outs } = (await p.create(i)) as { id: string; outs: RedisTenantState };
    expect(id).toBe(`tenant-acme@127.0.0.1:${server.port}`);
    expect(outs.observed).toMatchObject({
      exists: true,
      enabled: true,
      passwordMatches: true,
      keys: ["~tenant:acme:*"],
      channels: ["&tenant:acme:*"],
      keyCount: 0,
    });
    // Saved to the ACL file, so a restart keeps it; the password only as a hash.
    const saved = readFileSync(server.aclFile, "utf8");
    expect(saved).toMatch(/^user tenant-acme on .*~tenant:acme:\* (resetchannels )?&tenant:acme:\* .*-@dangerous$/m);
    expect(saved).not.toContain(i.password);
    const c = as(i);
    try {
      await c.set("tenant:acme:session:1", "ok");
      expect(await c.get("tenant:acme:session:1")).toBe("ok");
      await expect(c.get("tenant:globex:session:1")).rejects.toThrow(/NOPERM/);
      await expect(c.flushall()).rejects.toThrow(/NOPERM/);
      await expect(c.call("CONFIG", "GET", "requirepass")).rejects.toThrow(/NOPERM/);
      await expect(c.keys("*")).rejects.toThrow(/NOPERM/);
    } finally {
      c.disconnect();
    }
  });

  it("adopts its own user and keys left in place (the rebuild drill's destroy): the tenant's password proves it", async () => {
    const first = inputs("wayne");
    const { id, outs } = (await p.create(first)) as { id: string; outs: RedisTenantState };
    const c = as(first);
    try {
      await c.set("tenant:wayne:kept", "9");
    } finally {
      c.disconnect();
    }
    await keepingData(() => p.delete!(id, outs));
    const { outs: again } = (await p.create(first)) as { outs: RedisTenantState };
    expect(again.observed).toMatchObject({ exists: true, passwordMatches: true, keyCount: 1 });
  });

  it("adopts an existing user when told to (a catalog service enabled again), with the new password", async () => {
    const first = inputs("hooli");
    await p.create(first);
    await expect(p.create({ ...first, password: "pw-second-0123456789abcdef" })).rejects.toThrow(/already exists/);
    const again = { ...first, password: "pw-second-0123456789abcdef", adoptExisting: true };
    const { outs } = (await p.create(again)) as { outs: RedisTenantState };
    expect(outs.observed).toMatchObject({ exists: true, passwordMatches: true });
    const c = as(again);
    try {
      await c.set("tenant:hooli:x", "1");
    } finally {
      c.disconnect();
    }
  });

  it("read reports drift: password changed, patterns widened, user removed; update restores", async () => {
    const i = inputs("initech");
    const { id, outs } = (await p.create(i)) as { id: string; outs: RedisTenantState };
    expect((await p.diff!(id, outs, i)).changes).toBe(false);
    const a = admin();
    await a.call("ACL", "SETUSER", "tenant-initech", "resetpass", ">another-password-123456", "~*");
    const refreshed = (await p.read!(id, outs)).props as RedisTenantState;
    expect(__test.drifted(i, refreshed.observed)).toEqual(["password", "keys"]);
    expect(await p.diff!(id, refreshed, i)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await p.update!(id, refreshed, i)).outs as RedisTenantState;
    expect(__test.drifted(i, updated.observed)).toEqual([]);
    // Allowing a dangerous command back is drift too.
    await a.call("ACL", "SETUSER", "tenant-initech", "+flushall");
    expect(__test.drifted(i, ((await p.read!(id, outs)).props as RedisTenantState).observed)).toEqual(["commands"]);
    await a.call("ACL", "DELUSER", "tenant-initech");
    a.disconnect();
    expect(await p.read!(id, outs)).toEqual({ id: "", props: {} });
  });

  it("keeps a removed tenant's keys unless it was configured for deletion", async () => {
    const i = inputs("umbrella");
    const { id, outs } = (await p.create(i)) as { id: string; outs: RedisTenantState };
    const c = as(i);
    await c.mset("tenant:umbrella:a", "1", "tenant:umbrella:b", "2");
    c.disconnect();
    await expect(p.delete!(id, outs)).rejects.toThrow(
      'tenant "umbrella" still has 2 key(s) under tenant:umbrella:*; they are kept. To delete them, set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.',
    );
    const a = admin();
    expect(await a.exists("tenant:umbrella:a")).toBe(1);
    await p.delete!(id, { ...outs, onDelete: "delete" });
    expect(await a.exists("tenant:umbrella:a", "tenant:umbrella:b")).toBe(0);
    expect(await a.call("ACL", "GETUSER", "tenant-umbrella")).toBeNull();
    expect(readFileSync(server.aclFile, "utf8")).not.toContain("tenant-umbrella");
    a.disconnect();
  });

  it("refuses hostile names and weak passwords before touching the server", async () => {
    const hostile = { ...inputs("evil"), user: "default", keyPattern: "*" };
    expect((await p.check!({}, hostile)).failures?.map((f) => f.property)).toEqual(["user"]);
    await expect(p.create({ ...inputs("evil"), keyPattern: "tenant:evil:* ~*" })).rejects.toThrow(/unexpected key pattern/);
    await expect(p.create({ ...inputs("evil"), password: "short pw" })).rejects.toThrow(/at least 16 characters without spaces/);
    const a = admin();
    expect(await a.call("ACL", "GETUSER", "tenant-evil")).toBeNull();
    a.disconnect();
  });

  it("names the server on failure and never shows the password", async () => {
    const err = await p.create(inputs("down", { admin: { host: "127.0.0.1", port: 1, password: "admin-secret-xyz" } })).catch((e) => e);
    expect(err.message).toMatch(/^Redis create for tenant "down" on 127\.0\.0\.1:1 failed: /);
    expect(err.message).not.toContain("admin-secret-xyz");
    expect(err.message).not.toContain("pw-down-");
  });
});
