// One request to Vault's HTTP API for the Vault providers (KV secrets, configuration objects, AppRole credentials).
// Errors name the operation and Vault's own words, never the token or the body. Required by the providers' methods
// only through plain function references, so serialised providers carry no module state.
import { requestJson, type JsonResponse } from "./http-json";

export interface VaultConnection {
  /** Vault's address, e.g. "https://10.10.0.10:8200". */
  address: string;
  /** PEM of the CA that signed Vault's certificate (the platform CA); the system trust store otherwise. */
  caCert?: string;
}

export interface VaultBody {
  errors?: string[];
  data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** One request at `api` (after /v1/); `where` names it in errors. */
export async function vaultApi<T extends { errors?: string[] } = VaultBody>(
  c: VaultConnection,
  where: string,
  method: string,
  api: string,
  token: string | undefined,
  body?: unknown,
): Promise<JsonResponse<T>> {
  return requestJson<T>({
    url: `${c.address.replace(/\/$/, "")}/v1/${api}`,
    method,
    headers: token === undefined ? {} : { "X-Vault-Token": token },
    body,
    caCert: c.caCert,
    where,
    server: "Vault",
  });
}

export function vaultFailure(where: string, status: number, errors: string[] | undefined, otherwise: string): Error {
  return new Error(`${where} failed: ${(errors ?? []).join("; ") || otherwise} (HTTP ${status})`);
}

/** Vault's URL as the providers accept it. */
const VAULT_ADDRESS = /^https?:\/\/[^\s/]+(:\d+)?\/?$/;

/** The providers' check of the `address` input: a failure naming the expected form, or none. */
export function addressFailures(address: unknown): { property: string; reason: string }[] {
  return typeof address === "string" && VAULT_ADDRESS.test(address)
    ? []
    : [{ property: "address", reason: `expected Vault's URL such as "https://10.10.0.10:8200", got ${JSON.stringify(address)}` }];
}

/** The token for one operation: the given one, or one from an AppRole login (auth/approle/login). */
export async function vaultLogin(
  i: VaultConnection & { token?: string; appRole?: { roleId: string; secretId: string }; mount: string; path: string },
): Promise<string> {
  if (i.token) return i.token;
  if (!i.appRole) throw new Error(`Vault ${i.mount}/${i.path} at ${i.address}: neither a token nor an AppRole to log in with`);
  const where = `Vault AppRole login at ${i.address}`;
  const r = await vaultApi<{ auth?: { client_token?: string }; errors?: string[] }>(i, where, "POST", "auth/approle/login", undefined, {
    role_id: i.appRole.roleId,
    secret_id: i.appRole.secretId,
  });
  const token = r.body.auth?.client_token;
  if (r.status >= 400 || !token) throw vaultFailure(where, r.status, r.body.errors, "no token in the answer");
  return token;
}

const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** A mount and a path inside it as the providers accept them: plain segments, no "." or "..". */
export function checkPath(i: { mount: string; path: string }) {
  if (!SEGMENT.test(i.mount)) throw new Error(`Vault mount ${JSON.stringify(i.mount)} is not a plain path segment`);
  if (!i.path.split("/").every((s) => SEGMENT.test(s) && s !== "." && s !== ".."))
    throw new Error(`Vault path ${JSON.stringify(i.path)} is not a plain relative path`);
}

/**
 * The providers' check of where a secret goes and how they log in: Vault's URL, a plain mount and path, a token or an
 * AppRole. The failures, or none.
 */
export function placeFailures(news: {
  address: unknown;
  mount: string;
  path: string;
  token?: string;
  appRole?: { roleId?: string; secretId?: string };
}): { property: string; reason: string }[] {
  const failures = addressFailures(news.address);
  try {
    checkPath(news);
  } catch (err) {
    failures.push({ property: "path", reason: (err as Error).message });
  }
  if (!news.token && !(news.appRole?.roleId && news.appRole?.secretId))
    failures.push({ property: "appRole", reason: "expected a token or an AppRole (roleId and secretId) to log in with" });
  return failures;
}

/** A KV v2 secret's metadata as Vault answers GET <mount>/metadata/<path>. */
export interface KvMetadata {
  current_version?: number;
  versions?: Record<string, { deletion_time?: string; destroyed?: boolean }>;
}

/**
 * The latest version of a KV v2 secret (0: none), and whether it is live (neither deleted softly nor destroyed): a
 * write on top must check-and-set against that version, and a live one is never overwritten unasked.
 */
export function latestVersion(meta: KvMetadata | undefined): { version: number; live: boolean } {
  const version = meta?.current_version ?? 0;
  const latest = meta?.versions?.[String(version)];
  return { version, live: version > 0 && !!latest && !latest.destroyed && !latest.deletion_time };
}
