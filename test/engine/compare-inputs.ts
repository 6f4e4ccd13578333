// The offline engine's plan against what the real engine sent a provider plugin for the same program: DESIGN.md says
// the real one is right where they disagree, and the engine test holds them together with these.
import { COMPUTED_MARK, SECRET_MARK } from "../../ops/engine";

// The engine's marker of a secret value, from the SDK.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { specialSigKey, specialSecretSig } = require("@pulumi/pulumi/runtime/rpc");

/**
 * Where an offline plan's inputs and what the engine sent a plugin differ, as paths: a secret is the offline
 * engine's mark (its value is not shown) and the engine's value or secret wrapper at the same place; a value known only
 * after an apply is the offline mark and left out (unknown) by the engine.
 */
export function differences(offline: unknown, sent: unknown, path = ""): string[] {
  if (offline === SECRET_MARK) return sent === undefined ? [`${path}: a secret offline, nothing sent`] : [];
  if (offline === COMPUTED_MARK) return [];
  if (sent && typeof sent === "object" && (sent as Record<string, unknown>)[specialSigKey] === specialSecretSig) sent = (sent as { value: unknown }).value;
  if (Array.isArray(offline) && Array.isArray(sent)) {
    if (offline.length !== sent.length) return [`${path}: ${offline.length} items offline, ${sent.length} sent`];
    return offline.flatMap((v, i) => differences(v, sent[i], `${path}[${i}]`));
  }
  if (offline && typeof offline === "object" && sent && typeof sent === "object" && !Array.isArray(offline) && !Array.isArray(sent)) {
    const keys = new Set([...Object.keys(offline), ...Object.keys(sent)]);
    return [...keys].flatMap((k) => differences((offline as Record<string, unknown>)[k], (sent as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(offline) === JSON.stringify(sent) ? [] : [`${path}: ${JSON.stringify(offline)} offline, ${JSON.stringify(sent)} sent`];
}

/** A URN's own type and name ("proxmoxve:index/acl:Acl::platform-host-private-access-acl-0"). */
export const typeAndName = (urn: string) => `${urn.split("::")[2].split("$").pop()}::${urn.split("::").slice(3).join("::")}`;
