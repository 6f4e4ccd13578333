// Proxmox tags and Docker labels carried by everything the program creates. Proxmox tags allow only
// [a-z0-9_+.-] (no '=' or ':'), so "key-value" is the tag form; Docker labels use the same keys with '='.
import type { EnvironmentName, Role } from "./config/schema";

/** The environment a guest belongs to: one of the AI environments, or the host platform's own services. */
export type GuestEnvironment = EnvironmentName | "platform";

export const MANAGED_BY = "ai-dualstack";
export const ENV_TAG_PREFIX = "env-";

/** Sorted, as Proxmox stores them, so that a refresh shows no difference. */
export function guestTags(env: GuestEnvironment, stack: Role | string, extra: string[] = []): string[] {
  const tags = new Set([`${ENV_TAG_PREFIX}${env}`, `stack-${stack}`, `managed-by-${MANAGED_BY}`, ...extra]);
  for (const t of tags) {
    if (!/^[a-z0-9_][a-z0-9_+.-]*$/.test(t)) throw new Error(`invalid Proxmox tag "${t}": use a-z, 0-9, '_', '+', '.', '-'`);
  }
  return [...tags].sort();
}

/** The environments named by a guest's tags (a compliant guest has exactly one). */
export function environmentsOf(tags: readonly string[] | undefined): string[] {
  return (tags ?? []).filter((t) => t.startsWith(ENV_TAG_PREFIX)).map((t) => t.slice(ENV_TAG_PREFIX.length));
}

export function dockerLabels(env: GuestEnvironment, stack: string): Record<string, string> {
  return { env, stack, "managed-by": MANAGED_BY };
}
