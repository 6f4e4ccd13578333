// A dynamic provider for one Vault KV v2 secret, over Vault's HTTP API: written with check-and-set (create-only,
// then updates against the version last seen), `read` reporting the current version and a hash of the data so
// that `pulumi refresh` shows a secret overwritten or deleted behind Pulumi's back. Values never appear in errors.
//
// Serialisation rules (DESIGN.md): nothing captured from module scope; the credentials (a token, or the environment's
// AppRole, logged in once per operation) come from inputs marked secret.
import * as pulumi from "@pulumi/pulumi";
import { checkPath, latestVersion, placeFailures, vaultApi, vaultFailure, vaultLogin, type KvMetadata } from "./vault-api";

export const VAULT_KV_PROVIDER_VERSION = "2";

export interface VaultKvInputs {
  /** Vault's address, e.g. "https://10.10.0.10:8200". */
  address: string;
  /** A Vault token; or, instead, the environment's AppRole. */
  token?: string;
  appRole?: { roleId: string; secretId: string };
  /** The KV v2 mount, e.g. "kv-public". */
  mount: string;
  /** The secret's path inside the mount, e.g. "services/open-webui". */
  path: string;
  data: Record<string, string>;
  /** PEM of the CA that signed Vault's certificate (the platform CA); the system trust store otherwise. */
  caCert?: string;
  /** On delete: "soft" deletes the latest version (recoverable), "destroy" removes every version and metadata. */
  deleteMode?: "soft" | "destroy";
  providerVersion?: string;
}

export interface VaultKvObserved {
  version: number;
  createdTime: string;
  /** sha256 of the data as Vault holds it (canonical JSON): tells a changed secret without keeping its value. */
  dataHash: string;
}

export interface VaultKvState extends VaultKvInputs {
  observed: VaultKvObserved;
}

function canonicalHash(data: Record<string, unknown>): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  const sorted = Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((k) => [k, data[k]]),
  );
  return createHash("sha256").update(JSON.stringify(sorted)).digest("hex");
}

interface VaultResponse {
  status: number;
  body: {
    data?: {
      data?: Record<string, unknown>;
      metadata?: { version: number; created_time: string; deletion_time?: string; destroyed?: boolean };
      version?: number;
      created_time?: string;
    };
    errors?: string[];
  };
}

/** One request for the secret; errors name the address, the secret and Vault's own words — never the data or token. */
async function vault(i: VaultKvInputs, token: string, method: string, api: string, body?: unknown): Promise<VaultResponse> {
  const where = `Vault ${method} ${i.mount}/${i.path} at ${i.address}`;
  const r = await vaultApi<VaultResponse["body"]>(i, where, method, `${i.mount}/${api}/${i.path}`, token, body);
  if (r.status >= 400 && r.status !== 404) throw vaultFailure(where, r.status, r.body.errors, `HTTP ${r.status}`);
  return r;
}

async function observe(i: VaultKvInputs, token: string): Promise<VaultKvObserved | undefined> {
  const r = await vault(i, token, "GET", "data");
  const meta = r.body.data?.metadata;
  if (r.status === 404 || !r.body.data?.data || !meta || meta.destroyed || meta.deletion_time) return undefined;
  return { version: meta.version, createdTime: meta.created_time, dataHash: canonicalHash(r.body.data.data) };
}

async function write(i: VaultKvInputs, token: string, cas: number): Promise<VaultKvState> {
  checkPath(i);
  await vault(i, token, "POST", "data", { options: { cas }, data: i.data });
  const observed = await observe(i, token);
  if (!observed) throw new Error(`Vault ${i.mount}/${i.path} at ${i.address}: written, but not readable afterwards`);
  return { ...i, observed };
}

function drifted(declared: VaultKvInputs, recorded: VaultKvObserved | undefined, live: VaultKvObserved | undefined): string[] {
  if (!live) return ["deleted"];
  const out: string[] = [];
  if (recorded && live.version !== recorded.version) out.push("version");
  if (live.dataHash !== canonicalHash(declared.data)) out.push("data");
  return out;
}

export const vaultKvProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: VaultKvInputs, news: VaultKvInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = placeFailures(news);
    if (!news.data || typeof news.data !== "object" || Object.keys(news.data).length === 0)
      failures.push({ property: "data", reason: "expected at least one key" });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: VaultKvState, news: VaultKvInputs) {
    const replaces = (["address", "mount", "path"] as const).filter((k) => olds[k] !== news[k]);
    const dataChanged = canonicalHash(olds.data ?? {}) !== canonicalHash(news.data ?? {});
    const live = olds.observed;
    const changes =
      replaces.length > 0 ||
      dataChanged ||
      olds.providerVersion !== news.providerVersion ||
      olds.deleteMode !== news.deleteMode ||
      !live ||
      live.dataHash !== canonicalHash(news.data ?? {});
    return { changes, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: VaultKvInputs) {
    // Create only: a live secret is never silently overwritten. A secret whose latest version was deleted (a soft
    // delete, as on destroy) or destroyed gets a new version on top, its history kept: check-and-set against that
    // version (cas 0 fails there; the real Vault showed it when a stack was destroyed and rebuilt).
    checkPath(inputs);
    const token = await vaultLogin(inputs);
    const meta = await vault(inputs, token, "GET", "metadata");
    const { version: current, live } = latestVersion(meta.status === 404 ? undefined : (meta.body.data as KvMetadata | undefined));
    if (live) {
      throw new Error(
        `Vault ${inputs.mount}/${inputs.path} at ${inputs.address} already holds a secret (version ${current}): import it into the stack, or delete it in Vault first; it is not overwritten`,
      );
    }
    const outs = await write(inputs, token, current);
    return { id: `${inputs.mount}/${inputs.path}@${inputs.address}`, outs };
  },

  async read(id: string, props: VaultKvState) {
    const live = await observe(props, await vaultLogin(props));
    if (!live) return { id: "", props: {} };
    return { id, props: { ...props, observed: live } };
  },

  async update(_id: string, olds: VaultKvState, news: VaultKvInputs) {
    // Check-and-set against the version on the server now: a concurrent writer makes this fail rather than be lost.
    const token = await vaultLogin(news);
    const live = await observe(news, token);
    return { outs: await write(news, token, live?.version ?? 0) };
  },

  async delete(_id: string, props: VaultKvState) {
    checkPath(props);
    const token = await vaultLogin(props);
    if (props.deleteMode === "destroy") await vault(props, token, "DELETE", "metadata");
    else await vault(props, token, "DELETE", "data");
  },
};

export interface VaultKvArgs {
  address: pulumi.Input<string>;
  token?: pulumi.Input<string>;
  appRole?: pulumi.Input<{ roleId: pulumi.Input<string>; secretId: pulumi.Input<string> }>;
  mount: pulumi.Input<string>;
  path: pulumi.Input<string>;
  data: pulumi.Input<Record<string, pulumi.Input<string>>>;
  caCert?: pulumi.Input<string>;
  deleteMode?: pulumi.Input<"soft" | "destroy">;
}

/** One KV v2 secret in Vault. Type token: pulumi-nodejs:dynamic/vault:KvSecret. */
export class VaultKvSecret extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<VaultKvObserved>;

  constructor(name: string, args: VaultKvArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      vaultKvProvider,
      name,
      { ...args, providerVersion: VAULT_KV_PROVIDER_VERSION, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "appRole", "data"] }),
      "vault",
      "KvSecret",
    );
  }
}

export const __test = { drifted, canonicalHash };
