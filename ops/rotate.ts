// `dualstack rotate <stack> <secret>`: a new value for one kept secret, done so that the data it guards stays
// readable. Only secrets the program itself sets again where they are checked (lib/generated-secrets.ts, rotation
// "reapplied": an install script, a tenant provider, a service reading it at each start) are rotated here: a new
// version is written in Vault with check-and-set against the one read, then `pulumi up --refresh` takes it to every
// consumer. The others are refused with what they guard and what to do instead. Nothing is written before every
// check has passed, and the value is never printed.
import { randomBytes, randomInt } from "node:crypto";
import type { PlanResult } from "./engine";
import { answerFor, type GeneratedSecret } from "../lib/generated-secrets";
import { vaultApi, vaultFailure, type VaultConnection } from "../components/providers/vault-api";

const KEPT = "pulumi-nodejs:dynamic/vault:KeptSecret";
const PASSWORD = "random:index/randomPassword:RandomPassword";
const RANDOM_ID = "random:index/randomId:RandomId";
const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A rotation this command does not do, or cannot start: nothing was written. */
export class RotationRefused extends Error {
  override name = "RotationRefused";
}

/** A rotation that failed on the way (Vault, or the update after it): the message says what state it left. */
export class RotationFailed extends Error {
  override name = "RotationFailed";
}

export interface RotationTarget {
  /** The generated resource's name, e.g. "public-services-qdrant-api-key". */
  secret: string;
  /** Vault's address as the stack writes it. */
  address: string;
  mount: string;
  path: string;
  form: { kind: "password"; length: number } | { kind: "hex"; bytes: number };
  entry: GeneratedSecret;
}

/** The kept secrets of a stack's plan, with their answers: what `rotate <stack>` lists. */
export function keptSecrets(plan: PlanResult): { secret: string; entry: GeneratedSecret | undefined }[] {
  return plan.resources
    .filter((r) => r.type === KEPT)
    .map((r) => r.name.replace(/-kept$/, ""))
    .sort()
    .map((secret) => ({ secret, entry: answerFor(plan.role, secret) }));
}

/** What rotating `secret` of the stack writes, or a refusal naming why and what to do instead. */
export function rotationTarget(stack: string, plan: PlanResult, secret: string): RotationTarget {
  const kept = plan.resources.find((r) => r.type === KEPT && r.name === `${secret}-kept`);
  if (!kept) {
    const names = keptSecrets(plan).map((k) => k.secret);
    throw new RotationRefused(
      `stack ${stack} keeps no secret ${JSON.stringify(secret)}; its kept secrets: ${names.join(", ") || "none (the host keeps its own once vaultToken is set)"}`,
    );
  }
  const entry = answerFor(plan.role, secret);
  if (!entry) throw new RotationRefused(`${secret} is not in lib/generated-secrets.ts: nothing says what it guards, so it is not rotated`);
  if (entry.rotation === "never")
    throw new RotationRefused(`${secret} is never rotated: it guards ${entry.guards}; a new value would leave that data unreadable`);
  if (entry.rotation !== "reapplied")
    throw new RotationRefused(
      `${secret} is rotated by hand: it guards ${entry.guards}. Change it in the service first (its admin UI or CLI), then write the new value to Vault as ${String(
        kept.inputs.mount,
      )}/${String(kept.inputs.path)} (key "value") and run pulumi up --refresh --stack ${stack}`,
    );
  const source = plan.resources.find((r) => (r.type === PASSWORD || r.type === RANDOM_ID) && r.name === secret);
  if (!source) throw new RotationRefused(`${secret}: no generated password or key of that name in the stack's plan`);
  const form =
    source.type === RANDOM_ID
      ? { kind: "hex" as const, bytes: Number((source.inputs as { byteLength?: unknown }).byteLength) }
      : { kind: "password" as const, length: Number((source.inputs as { length?: unknown }).length) };
  const inputs = kept.inputs as { address: string; mount: string; path: string };
  return { secret, address: String(inputs.address), mount: inputs.mount, path: inputs.path, form, entry };
}

/** A new value of the same form as the generated one: letters and digits, or random bytes in hex. */
export function newValue(form: RotationTarget["form"]): string {
  if (form.kind === "hex") return randomBytes(form.bytes).toString("hex");
  return Array.from({ length: form.length }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join("");
}

export interface RotateDeps {
  vault: VaultConnection & { token: string };
  /** `pulumi up --refresh --yes` of the stack: the kept secret reads the new version, its consumers take it. */
  upRefresh(stack: string, onProgress: (line: string) => void): Promise<void>;
  log(line: string): void;
  /** Tests: the new value (else generated). */
  value?: string;
}

interface KvRead {
  data?: { data?: { value?: unknown }; metadata?: { version?: number } };
  errors?: string[];
}

/** Rotates one kept secret: Vault first (check-and-set against the version read), then the stack. */
export async function rotate(stack: string, t: RotationTarget, d: RotateDeps): Promise<{ version: number }> {
  const where = `Vault ${t.mount}/${t.path} at ${d.vault.address}`;
  const current = await vaultApi<KvRead>(d.vault, where, "GET", `${t.mount}/data/${t.path}`, d.vault.token).catch((err: Error) => {
    throw new RotationFailed(`${err.message}; nothing was written`);
  });
  if (current.status === 404) throw new RotationRefused(`${where} holds no value yet: run pulumi up --stack ${stack} first (it keeps it there)`);
  if (current.status >= 400)
    throw new RotationFailed(`${vaultFailure(where, current.status, current.body.errors, `HTTP ${current.status}`).message}; nothing was written`);
  const version = current.body.data?.metadata?.version ?? 0;
  const value = d.value ?? newValue(t.form);
  const written = await vaultApi<{ data?: { version?: number }; errors?: string[] }>(d.vault, where, "POST", `${t.mount}/data/${t.path}`, d.vault.token, {
    options: { cas: version },
    data: { value },
  }).catch((err: Error) => {
    throw new RotationFailed(`${err.message}; whether the new version was written is not known: read ${t.mount}/${t.path} in Vault`);
  });
  if (written.status >= 400)
    throw new RotationFailed(`${vaultFailure(where, written.status, written.body.errors, `HTTP ${written.status}`).message}; nothing was written`);
  const now = written.body.data?.version ?? version + 1;
  d.log(`${t.secret}: version ${now} written in ${t.mount}/${t.path} (was ${version}); pulumi up --refresh --stack ${stack}…`);
  try {
    await d.upRefresh(stack, d.log);
  } catch (err) {
    throw new RotationFailed(
      `${t.secret}: the new value is in Vault (version ${now}), but pulumi up --refresh --stack ${stack} failed: ${(err as Error).message}. Run it again once that is fixed: the consumers take the value kept in Vault`,
    );
  }
  return { version: now };
}

/** `rotate <stack>` without a secret: each kept secret, how it is rotated, what it guards. */
export function renderKeptSecrets(stack: string, rows: ReturnType<typeof keptSecrets>): string {
  if (rows.length === 0) return `stack ${stack} keeps no secret (the host keeps its own once vaultToken is set)\n`;
  const width = Math.max(...rows.map((r) => r.secret.length));
  return `${rows.map((r) => `${r.secret.padEnd(width)}  ${(r.entry?.rotation ?? "unknown").padEnd(9)}  ${r.entry?.guards ?? "not in lib/generated-secrets.ts"}`).join("\n")}\n`;
}
