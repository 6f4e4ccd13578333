// The tenants' Qdrant credentials: JWTs for Qdrant's JWT RBAC that reach one collection, signed with the API key.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { qdrantCollectionToken } from "../../lib/tenancy";

const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

describe("Qdrant collection token", () => {
  it("is an HS256 JWT, signed with the API key, granting read-write on one collection and nothing else", () => {
    const token = qdrantCollectionToken("the-api-key", "tenant_acme");
    const [header, payload, signature] = token.split(".");
    expect(decode(header)).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decode(payload)).toEqual({ access: [{ collection: "tenant_acme", access: "rw" }] });
    expect(signature).toBe(createHmac("sha256", "the-api-key").update(`${header}.${payload}`).digest("base64url"));
    expect(token).not.toContain("the-api-key");
  });

  it("differs per collection and per key; read-only on request", () => {
    expect(qdrantCollectionToken("k", "tenant_acme")).not.toBe(qdrantCollectionToken("k", "tenant_globex"));
    expect(qdrantCollectionToken("k1", "tenant_acme").split(".")[2]).not.toBe(qdrantCollectionToken("k2", "tenant_acme").split(".")[2]);
    expect(decode(qdrantCollectionToken("k", "tenant_acme", "r").split(".")[1]).access[0].access).toBe("r");
  });
});
