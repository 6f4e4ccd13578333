// A kept secret: a generated credential that guards or encrypts kept data, held in Vault (KV v2, under
// `<mount>/kept/…`, lib/vault/access.ts KEPT_PATH) as its source of truth. The state keeps a copy; each restores the other:
// - create adopts the value Vault already holds (a rebuilt stack, a state lost, an entry enabled again) and writes
//   the candidate (a value the random provider just generated) only when Vault holds none, with check-and-set so
//   that two writers never keep two values;
// - refresh reads Vault's value (an explicit rotation, `dualstack rotate`, is seen and flows to the consumers); a
//   value deleted from Vault behind Pulumi's back is written back from the state on the next `up`;
// - delete leaves Vault untouched: taking a service out of the stack, or tearing the stack down, never loses it;
// - a new candidate (the random resource generated again) changes nothing.
// Values never appear in errors. Serialisation rules as for the other providers (DESIGN.md).
import * as pulumi from "@pulumi/pulumi";
import { checkPath, latestVersion, placeFailures, vaultApi, vaultFailure, vaultLogin, type KvMetadata } from "./vault-api";

export const KEPT_SECRET_PROVIDER_VERSION = "1";

export interface KeptSecretInputs {
  address: string;
  token?: string;
  appRole?: { roleId: string; secretId: string };
  mount: string;
  /** Inside the mount, under kept/: "kept/private-postgres-admin-password" (the random resource's name). */
  path: string;
  /** The value kept when Vault holds none yet (secret). */
  candidate: string;
  caCert?: string;
  providerVersion?: string;
}

export interface KeptSecretObserved {
  /** The KV version holding the value. */
  version: number;
  /** Where the value came from when this resource was created: Vault's ("adopted") or the candidate ("written"). */
  source: "adopted" | "written";
  /** Set by refresh when Vault no longer holds it: the next `up` writes the state's copy back. */
  missing?: boolean;
}

export interface KeptSecretState extends KeptSecretInputs {
  value: string;
  observed: KeptSecretObserved;
}

type Place = Pick<KeptSecretInputs, "address" | "caCert" | "mount" | "path">;

/** The live value and its version; or the version a new write must check-and-set against. */
async function readKept(i: Place, token: string): Promise<{ value?: string; version: number }> {
  const where = `Vault GET ${i.mount}/${i.path} at ${i.address}`;
  const meta = await vaultApi<{ data?: KvMetadata; errors?: string[] }>(i, where, "GET", `${i.mount}/metadata/${i.path}`, token);
  if (meta.status === 404) return { version: 0 };
  if (meta.status >= 400) throw vaultFailure(where, meta.status, meta.body.errors, `HTTP ${meta.status}`);
  const { version: current, live } = latestVersion(meta.body.data);
  if (!live) return { version: current };
  const r = await vaultApi<{ data?: { data?: Record<string, unknown> }; errors?: string[] }>(i, where, "GET", `${i.mount}/data/${i.path}`, token);
  if (r.status >= 400) throw vaultFailure(where, r.status, r.body.errors, `HTTP ${r.status}`);
  const value = r.body.data?.data?.value;
  if (typeof value !== "string" || value === "")
    throw new Error(`${where}: the secret there has no "value" key; a kept secret holds exactly one value (fix or delete it in Vault)`);
  return { value, version: current };
}

/** Adopts the value at the place, or writes `value` there when it holds none; never overwrites a live value. */
async function keep(i: Place, token: string, value: string): Promise<{ value: string; version: number; source: "adopted" | "written" }> {
  checkPath(i);
  for (let attempt = 0; attempt < 3; attempt++) {
    const live = await readKept(i, token);
    if (live.value !== undefined) return { value: live.value, version: live.version, source: "adopted" };
    const where = `Vault POST ${i.mount}/${i.path} at ${i.address}`;
    const w = await vaultApi<{ data?: { version?: number }; errors?: string[] }>(i, where, "POST", `${i.mount}/data/${i.path}`, token, {
      options: { cas: live.version },
      data: { value },
    });
    if (w.status < 400) return { value, version: w.body.data?.version ?? live.version + 1, source: "written" };
    // Another writer got there first: adopt what it wrote.
    if (!(w.status === 400 && (w.body.errors ?? []).some((e) => /check-and-set/.test(e))))
      throw vaultFailure(where, w.status, w.body.errors, `HTTP ${w.status}`);
  }
  throw new Error(`Vault ${i.mount}/${i.path} at ${i.address}: the value kept changing while it was being kept; try again`);
}

export const keptSecretProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: KeptSecretInputs, news: KeptSecretInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = placeFailures(news);
    if (typeof news.candidate !== "string" || news.candidate.length < 16)
      failures.push({ property: "candidate", reason: "expected a generated value of at least 16 characters" });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: KeptSecretState, news: KeptSecretInputs) {
    // The candidate is not compared: a value kept is changed only by an explicit rotation.
    const moved = (["address", "mount", "path"] as const).some((k) => olds[k] !== news[k]);
    return { changes: moved || olds.observed?.missing === true || olds.providerVersion !== news.providerVersion, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: KeptSecretInputs) {
    const kept = await keep(inputs, await vaultLogin(inputs), inputs.candidate);
    return {
      id: `${inputs.mount}/${inputs.path}@${inputs.address}`,
      outs: { ...inputs, value: kept.value, observed: { version: kept.version, source: kept.source } },
    };
  },

  async read(id: string, props: KeptSecretState) {
    const live = await readKept(props, await vaultLogin(props));
    if (live.value === undefined) return { id, props: { ...props, observed: { ...props.observed, missing: true } } };
    return { id, props: { ...props, value: live.value, observed: { version: live.version, source: props.observed.source } } };
  },

  async update(_id: string, olds: KeptSecretState, news: KeptSecretInputs) {
    // Moved, or gone from Vault: the value the state keeps goes to the (new) place, unless one is already there.
    const kept = await keep(news, await vaultLogin(news), olds.value);
    if (kept.source === "adopted" && kept.value !== olds.value)
      throw new Error(
        `Vault ${news.mount}/${news.path} at ${news.address} already keeps another value than this stack's: reconcile them by hand (the data guarded by each), then refresh`,
      );
    return { outs: { ...news, value: kept.value, observed: { version: kept.version, source: olds.observed.source } } };
  },

  async delete() {
    // Kept: neither a teardown nor taking the service out deletes a credential that guards kept data.
  },
};

export interface KeptSecretArgs {
  address: pulumi.Input<string>;
  token?: pulumi.Input<string>;
  appRole?: pulumi.Input<{ roleId: pulumi.Input<string>; secretId: pulumi.Input<string> }>;
  mount: pulumi.Input<string>;
  path: pulumi.Input<string>;
  candidate: pulumi.Input<string>;
  caCert?: pulumi.Input<string>;
}

/** A generated credential kept in Vault across teardowns. Type token: pulumi-nodejs:dynamic/vault:KeptSecret. */
export class KeptSecret extends pulumi.dynamic.Resource {
  declare public readonly value: pulumi.Output<string>;
  declare public readonly observed: pulumi.Output<KeptSecretObserved>;

  constructor(name: string, args: KeptSecretArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      keptSecretProvider,
      name,
      { ...args, providerVersion: KEPT_SECRET_PROVIDER_VERSION, value: undefined, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "appRole", "candidate", "value"] }),
      "vault",
      "KeptSecret",
    );
  }
}
