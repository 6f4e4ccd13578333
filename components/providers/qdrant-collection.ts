// A dynamic provider for a tenant's Qdrant collection, over Qdrant's HTTP API: created with its vector parameters
// (an existing collection with the same parameters is adopted, one with others is refused), `read` reporting whether
// it exists, its parameters and its exact point count (refresh sees a deleted or recreated collection), and a delete
// that keeps a collection holding points unless the tenant is configured for deletion.
//
// Serialisation rules (DESIGN.md): nothing captured from module scope but functions; the API key is an input marked
// secret and never appears in errors.
import * as pulumi from "@pulumi/pulumi";
import { requestJson } from "./http-json";
import { destroyKeepsData } from "./keep-data";

export const QDRANT_COLLECTION_PROVIDER_VERSION = "1";

export const QDRANT_DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"] as const;
export type QdrantDistance = (typeof QDRANT_DISTANCES)[number];

export interface QdrantCollectionInputs {
  tenant: string;
  /** Qdrant's REST address, e.g. "http://10.30.0.10:6333". */
  url: string;
  apiKey: string;
  collection: string;
  vectorSize: number;
  distance: QdrantDistance;
  onDelete: "retain" | "delete";
  caCert?: string;
  providerVersion?: string;
}

export interface QdrantCollectionObserved {
  exists: boolean;
  vectorSize: number | null;
  distance: string | null;
  points: number;
}

export interface QdrantCollectionState extends QdrantCollectionInputs {
  observed: QdrantCollectionObserved;
}

const COLLECTION = /^[a-z_][a-z0-9_]{0,62}$/;

interface QdrantBody {
  result?: { config?: { params?: { vectors?: { size?: number; distance?: string } } }; count?: number } | boolean;
  status?: { error?: string } | string;
}

/** One request to Qdrant; errors name the tenant, the collection, the server and Qdrant's own words. */
async function qdrant(i: QdrantCollectionInputs, method: string, path: string, body?: unknown): Promise<{ status: number; body: QdrantBody }> {
  if (!COLLECTION.test(i.collection)) throw new Error(`tenant "${i.tenant}": collection name ${JSON.stringify(i.collection)} is not a plain identifier`);
  const where = `tenant "${i.tenant}": Qdrant ${method} collection ${i.collection} at ${i.url}`;
  const r = await requestJson<QdrantBody>({
    url: `${i.url.replace(/\/$/, "")}/collections/${i.collection}${path}`,
    method,
    headers: { "api-key": i.apiKey },
    body,
    caCert: i.caCert,
    where,
    server: "Qdrant",
  });
  if (r.status >= 400 && r.status !== 404) {
    const said = typeof r.body.status === "object" ? r.body.status?.error : typeof r.body.status === "string" ? r.body.status : undefined;
    throw new Error(`${where} failed: ${said || `HTTP ${r.status}`} (HTTP ${r.status})`);
  }
  return r;
}

async function observe(i: QdrantCollectionInputs): Promise<QdrantCollectionObserved> {
  const info = await qdrant(i, "GET", "");
  if (info.status === 404) return { exists: false, vectorSize: null, distance: null, points: 0 };
  const vectors = typeof info.body.result === "object" ? info.body.result.config?.params?.vectors : undefined;
  const count = await qdrant(i, "POST", "/points/count", { exact: true });
  const points = typeof count.body.result === "object" ? (count.body.result.count ?? 0) : 0;
  return { exists: true, vectorSize: vectors?.size ?? null, distance: vectors?.distance ?? null, points };
}

function drifted(declared: QdrantCollectionInputs, o: QdrantCollectionObserved | undefined): string[] {
  if (!o || !o.exists) return ["deleted"];
  const out: string[] = [];
  if (o.vectorSize !== declared.vectorSize) out.push("vectorSize");
  if (o.distance !== declared.distance) out.push("distance");
  return out;
}

async function ensure(i: QdrantCollectionInputs): Promise<QdrantCollectionState> {
  let o = await observe(i);
  if (o.exists) {
    const differs = drifted(i, o);
    if (differs.length > 0) {
      throw new Error(
        `tenant "${i.tenant}": collection ${i.collection} at ${i.url} exists with ${o.vectorSize}-dimension ${o.distance} vectors ` +
          `(declared: ${i.vectorSize}-dimension ${i.distance}) and ${o.points} point(s); it is not changed. Move or delete it first.`,
      );
    }
  } else {
    await qdrant(i, "PUT", "", { vectors: { size: i.vectorSize, distance: i.distance }, on_disk_payload: true });
    o = await observe(i);
    if (!o.exists) throw new Error(`tenant "${i.tenant}": collection ${i.collection} at ${i.url} was created but is not there afterwards`);
  }
  return { ...i, observed: o };
}

export const qdrantCollectionProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: QdrantCollectionInputs, news: QdrantCollectionInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(news.url ?? ""))
      failures.push({ property: "url", reason: `expected Qdrant's URL such as "http://10.30.0.10:6333", got ${JSON.stringify(news.url)}` });
    if (!COLLECTION.test(news.collection ?? ""))
      failures.push({ property: "collection", reason: `expected a lower-case identifier, got ${JSON.stringify(news.collection)}` });
    if (!(Number.isInteger(news.vectorSize) && news.vectorSize >= 1 && news.vectorSize <= 65536))
      failures.push({ property: "vectorSize", reason: `expected a whole number from 1 to 65536, got ${JSON.stringify(news.vectorSize)}` });
    if (!(QDRANT_DISTANCES as readonly string[]).includes(news.distance))
      failures.push({ property: "distance", reason: `expected one of ${QDRANT_DISTANCES.join(", ")}, got ${JSON.stringify(news.distance)}` });
    if (news.onDelete !== "retain" && news.onDelete !== "delete") failures.push({ property: "onDelete", reason: 'expected "retain" or "delete"' });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: QdrantCollectionState, news: QdrantCollectionInputs) {
    // New vector parameters need a new collection: replacing deletes the old one first, which delete refuses while
    // it holds points (unless onDelete is "delete").
    // The same server by another way (https through the gateway, another port) is an update, another host a new one.
    const host = (url: string) => {
      try {
        return new URL(url).hostname;
      } catch {
        return url;
      }
    };
    const replaces: string[] = (["collection", "vectorSize", "distance"] as const).filter((k) => olds[k] !== news[k]);
    if (host(olds.url) !== host(news.url)) replaces.push("url");
    const changed = (["url", "onDelete", "apiKey", "caCert", "providerVersion"] as const).filter((k) => olds[k] !== news[k] && !replaces.includes(k));
    return { changes: replaces.length > 0 || changed.length > 0 || drifted(news, olds.observed).length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: QdrantCollectionInputs) {
    return { id: `${inputs.collection}@${inputs.url}`, outs: await ensure(inputs) };
  },

  async read(id: string, props: QdrantCollectionState) {
    const observed = await observe(props);
    if (!observed.exists) return { id: "", props: {} };
    return { id, props: { ...props, observed } };
  },

  async update(_id: string, _olds: QdrantCollectionState, news: QdrantCollectionInputs) {
    return { outs: await ensure(news) };
  },

  async delete(_id: string, props: QdrantCollectionState) {
    if (destroyKeepsData()) return;
    const o = await observe(props);
    if (!o.exists) return;
    if (o.points > 0 && props.onDelete !== "delete") {
      throw new Error(
        `tenant "${props.tenant}": collection ${props.collection} still holds ${o.points} point(s); its data is kept. ` +
          `To delete it, set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.`,
      );
    }
    await qdrant(props, "DELETE", "");
  },
};

export interface QdrantCollectionArgs {
  tenant: pulumi.Input<string>;
  url: pulumi.Input<string>;
  apiKey: pulumi.Input<string>;
  collection: pulumi.Input<string>;
  vectorSize: pulumi.Input<number>;
  distance: pulumi.Input<QdrantDistance>;
  onDelete: pulumi.Input<"retain" | "delete">;
  caCert?: pulumi.Input<string>;
}

/** A tenant's vector collection. Type token: pulumi-nodejs:dynamic/qdrant:Collection. */
export class QdrantCollection extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<QdrantCollectionObserved>;

  constructor(name: string, args: QdrantCollectionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      qdrantCollectionProvider,
      name,
      { ...args, providerVersion: QDRANT_COLLECTION_PROVIDER_VERSION, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["apiKey"] }),
      "qdrant",
      "Collection",
    );
  }
}

export const __test = { drifted };
