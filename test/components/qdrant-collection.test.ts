// The Qdrant collection provider against a local server implementing the REST subset it uses, with faults.
import { freePort } from "../helpers/servers";
import { afterEach, describe, expect, it } from "vitest";
import { qdrantCollectionProvider as p, type QdrantCollectionInputs, type QdrantCollectionState } from "../../components/providers/qdrant-collection";
import { keepingData } from "../helpers/keep-data";
import { startFakeQdrant, type FakeQdrant } from "../helpers/fake-qdrant";

let q: FakeQdrant | undefined;
afterEach(async () => {
  await q?.close();
  q = undefined;
});

const inputs = (s: FakeQdrant, extra: Partial<QdrantCollectionInputs> = {}): QdrantCollectionInputs => ({
  tenant: "acme",
  url: s.url,
  apiKey: s.apiKey,
  collection: "tenant_acme",
  vectorSize: 768,
  distance: "Cosine",
  onDelete: "retain",
  ...extra,
});

describe("Qdrant collection", () => {
  it("creates the collection with its vector parameters and reports what it finds", async () => {
    q = await startFakeQdrant();
    const { id, outs } = (await p.create(inputs(q))) as { id: string; outs: QdrantCollectionState };
    expect(id).toBe(`tenant_acme@${q.url}`);
    expect(q.collections.get("tenant_acme")).toEqual({ size: 768, distance: "Cosine", points: 0 });
    expect(outs.observed).toEqual({ exists: true, vectorSize: 768, distance: "Cosine", points: 0 });
  });

  it("adopts an existing collection with the same parameters, refuses one with others and changes nothing", async () => {
    q = await startFakeQdrant();
    q.collections.set("tenant_acme", { size: 768, distance: "Cosine", points: 42 });
    const adopted = (await p.create(inputs(q))).outs as QdrantCollectionState;
    expect(adopted.observed.points).toBe(42);
    q.collections.set("tenant_acme", { size: 384, distance: "Dot", points: 7 });
    await expect(p.create(inputs(q))).rejects.toThrow(
      `tenant "acme": collection tenant_acme at ${q.url} exists with 384-dimension Dot vectors (declared: 768-dimension Cosine) and 7 point(s); it is not changed. Move or delete it first.`,
    );
    expect(q.collections.get("tenant_acme")).toEqual({ size: 384, distance: "Dot", points: 7 });
  });

  it("refresh sees a deleted or recreated collection; update puts it back", async () => {
    q = await startFakeQdrant();
    const i = inputs(q);
    const { id, outs } = (await p.create(i)) as { id: string; outs: QdrantCollectionState };
    expect((await p.diff!(id, outs, i)).changes).toBe(false);
    q.collections.delete("tenant_acme");
    expect(await p.read!(id, outs)).toEqual({ id: "", props: {} });
    q.collections.set("tenant_acme", { size: 3, distance: "Euclid", points: 0 });
    const recreated = (await p.read!(id, outs)).props as QdrantCollectionState;
    expect(recreated.observed).toEqual({ exists: true, vectorSize: 3, distance: "Euclid", points: 0 });
    expect(await p.diff!(id, recreated, i)).toMatchObject({ changes: true, replaces: [] });
    q.collections.delete("tenant_acme");
    const back = (await p.update!(id, recreated, i)).outs as QdrantCollectionState;
    expect(back.observed).toMatchObject({ exists: true, vectorSize: 768 });
  });

  it("new vector parameters replace the collection, delete first", async () => {
    q = await startFakeQdrant();
    const { id, outs } = (await p.create(inputs(q))) as { id: string; outs: QdrantCollectionState };
    expect(await p.diff!(id, outs, inputs(q, { vectorSize: 1024 }))).toEqual({ changes: true, replaces: ["vectorSize"], deleteBeforeReplace: true });
    expect(await p.diff!(id, outs, inputs(q, { onDelete: "delete" }))).toMatchObject({ changes: true, replaces: [] });
  });

  it("keeps a collection with points on delete unless the tenant is configured for deletion", async () => {
    q = await startFakeQdrant();
    const { id, outs } = (await p.create(inputs(q))) as { id: string; outs: QdrantCollectionState };
    q.collections.get("tenant_acme")!.points = 5;
    await expect(p.delete!(id, outs)).rejects.toThrow(
      'tenant "acme": collection tenant_acme still holds 5 point(s); its data is kept. To delete it, set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.',
    );
    expect(q.collections.has("tenant_acme")).toBe(true);
    await p.delete!(id, { ...outs, onDelete: "delete" });
    expect(q.collections.has("tenant_acme")).toBe(false);
    // Already gone: nothing to do.
    await p.delete!(id, outs);
  });

  it("the rebuild drill's destroy leaves every collection where it is, even one set for deletion; create adopts it again", async () => {
    q = await startFakeQdrant();
    const { id, outs } = (await p.create(inputs(q, { onDelete: "delete" }))) as { id: string; outs: QdrantCollectionState };
    q.collections.get("tenant_acme")!.points = 5;
    await keepingData(() => p.delete!(id, outs));
    expect(q.collections.get("tenant_acme")?.points).toBe(5);
    const again = (await p.create(inputs(q, { onDelete: "delete" }))) as { outs: QdrantCollectionState };
    expect(again.outs.observed).toMatchObject({ exists: true, points: 5 });
  });

  it("an empty collection goes on delete", async () => {
    q = await startFakeQdrant();
    const { id, outs } = (await p.create(inputs(q))) as { id: string; outs: QdrantCollectionState };
    await p.delete!(id, outs);
    expect(q.collections.size).toBe(0);
  });

  it("names Qdrant's error on a wrong key or a 5xx, never the key", async () => {
    q = await startFakeQdrant();
    const denied = await p.create(inputs(q, { apiKey: "wrong-key-value" })).catch((e) => e);
    expect(denied.message).toBe(`tenant "acme": Qdrant GET collection tenant_acme at ${q.url} failed: Invalid api-key (HTTP 401)`);
    q.fault = { match: "/collections/tenant_acme", status: 503, error: "Service Unavailable: storage is read-only", times: 1 };
    const down = await p.create(inputs(q)).catch((e) => e);
    expect(down.message).toBe(`tenant "acme": Qdrant GET collection tenant_acme at ${q.url} failed: Service Unavailable: storage is read-only (HTTP 503)`);
    expect(`${denied.message}${down.message}`).not.toContain(q.apiKey);
  });

  it("says Qdrant cannot be reached when the connection is refused", async () => {
    const port = await freePort();
    const err = await p
      .create({ tenant: "acme", url: `http://127.0.0.1:${port}`, apiKey: "k", collection: "tenant_acme", vectorSize: 8, distance: "Dot", onDelete: "retain" })
      .catch((e) => e);
    expect(err.message).toBe(`tenant "acme": Qdrant GET collection tenant_acme at http://127.0.0.1:${port}: cannot reach Qdrant (ECONNREFUSED)`);
  });

  it("check refuses hostile names and bad parameters before any request", async () => {
    q = await startFakeQdrant();
    const bad = await p.check!(
      {},
      inputs(q, { collection: "x/../../snapshots", vectorSize: 0, distance: "Nearest" as never, onDelete: "maybe" as never, url: "ftp://x" }),
    );
    expect(bad.failures?.map((f) => f.property)).toEqual(["url", "collection", "vectorSize", "distance", "onDelete"]);
    await expect(p.create(inputs(q, { collection: "../aliases" }))).rejects.toThrow(/not a plain identifier/);
    expect(q.log).toEqual([]);
  });
});
