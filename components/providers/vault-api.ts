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
