import { appRoleOf, kvMountOf, policyOf } from "../../lib/vault/access";
import { environmentOfStack, type Props } from "../support/guests";
import type { Rule } from "../support/policy";

const ENVS = ["private", "public"] as const;

/** The mount segment of each `path "…"` of a Vault policy. */
function policyMounts(policy: string): string[] {
  return [...policy.matchAll(/path\s+"([^"]*)"/g)].map((m) => m[1].split("/")[0]);
}

export const vaultPathsOwnEnvironment: Rule = (t) => ({
  name: "vault-paths-own-environment",
  description:
    "An environment writes secrets only under its own KV mount (kv-<env>); its Vault policy reaches only that mount, without globs across mounts, and its AppRole carries only that policy.",
  reason: "One AppRole reaching both mounts, or a secret written into the other environment's mount, would carry credentials across the isolation boundary.",
  source: "security-and-dr.md rule 17; Vault concepts/policies (deny by default, limit globs)",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const env = environmentOfStack(t, args.resources);
    for (const r of args.resources) {
      const p = r.props as Props;
      // A KV secret (components/providers/vault-kv.ts) in an environment stack: only under its own mount.
      if (typeof p.mount === "string" && typeof p.path === "string" && (env === "private" || env === "public") && p.mount !== kvMountOf(env)) {
        report(`${r.name} writes ${p.mount}/${p.path}; the ${env} environment may write only under ${kvMountOf(env)}/`, r.urn);
      }
      // The host's Vault objects (components/providers/vault-config.ts): per environment policies and AppRoles.
      const o = p.object as { kind?: string; name?: string; policy?: string; settings?: { token_policies?: string[] } } | undefined;
      for (const e of ENVS) {
        if (o?.kind === "policy" && o.name === policyOf(e) && typeof o.policy === "string") {
          const mounts = policyMounts(o.policy);
          const foreign = mounts.filter((m) => m !== kvMountOf(e));
          if (mounts.length === 0 || foreign.length > 0)
            report(
              `Vault policy ${o.name} reaches ${foreign.length ? foreign.join(", ") : "nothing"}; it may reach only ${kvMountOf(e)}/ (no globs across mounts)`,
              r.urn,
            );
        }
        if (o?.kind === "approle" && o.name === appRoleOf(e)) {
          const policies = o.settings?.token_policies ?? [];
          if (policies.length !== 1 || policies[0] !== policyOf(e))
            report(`Vault AppRole ${o.name} carries the policies ${JSON.stringify(policies)}; expected only ["${policyOf(e)}"]`, r.urn);
        }
      }
    }
  },
});
