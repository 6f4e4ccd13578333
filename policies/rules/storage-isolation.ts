import { addressesIn, datastoresOf, environmentOfStack, guestEnvironment, inAnyCidr, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";
import { CT } from "../support/types";

export const storageOfOwnEnvironment: Rule = (t) => ({
  name: "storage-of-own-environment",
  description: "A guest's disks, volumes and cloud-init drive live only on its own environment's datastores.",
  reason: "A datastore shared across environments lets one environment's token allocate, read or remove the other's volumes.",
  source: "security-and-dr.md rule 15; KICS shared_volumes_between_containers",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const env = guestEnvironment(args.props);
    if (!env) return;
    const own = t.environments[env].datastores;
    for (const ds of new Set(datastoresOf(args.type, args.props))) {
      if (!own.includes(ds)) report(`${args.name} (env-${env}) puts a volume on ${ds}; ${env} guests may use only ${own.join(", ")}`);
    }
  },
});

export const poolOfOwnEnvironment: Rule = (t) => ({
  name: "pool-of-own-environment",
  description: "Every guest sits in its own environment's resource pool (the pool its token is scoped to).",
  reason: "Each environment's token reaches only its pool; a guest outside it escapes that boundary, or cannot be managed by its own token.",
  source: "security-and-dr.md rule 27; PVE pveum pools",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const env = guestEnvironment(args.props);
    if (!env) return;
    const pools = t.environments[env].pools;
    if (!pools.includes(args.props.poolId)) report(`${args.name} (env-${env}) is in pool ${JSON.stringify(args.props.poolId ?? null)}; expected one of ${pools.join(", ")}`);
  },
});

const FORBIDDEN_BIND_SOURCES = [/^\/$/, /^\/etc(\/|$)/, /^\/var(\/|$)/, /docker\.sock$/, /^\/(proc|sys|dev|root|boot)(\/|$)/];

export const bindMountsConfined: Rule = (t) => ({
  name: "bind-mounts-confined",
  description: `Container bind mounts come only from ${t.bindMountRoot}/<environment>/, never from /, /etc, /var or a Docker socket.`,
  reason: "A bind mount hands a host path to the container; system paths or the Docker socket are a way out of it, and a shared path joins environments.",
  source: "security-and-dr.md rule 14; PVE pct.adoc; KICS docker_socket_mounted_in_container",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== CT) return;
    const env = guestEnvironment(args.props);
    for (const m of args.props.mountPoints ?? []) {
      const source = String(m?.volume ?? "");
      if (!source.startsWith("/")) continue; // a storage volume, not a bind mount
      if (FORBIDDEN_BIND_SOURCES.some((re) => re.test(source))) {
        report(`${args.name} bind-mounts ${source} at ${m.path}: host system paths and the Docker socket are never allowed`);
      } else if (!env || !source.startsWith(`${t.bindMountRoot}/${env}/`)) {
        report(`${args.name} bind-mounts ${source} at ${m.path}; bind mounts must come from ${t.bindMountRoot}/${env ?? "<environment>"}/`);
      }
    }
  },
});

export const noPrivateEndpointInPublic: Rule = (t) => ({
  name: "no-private-endpoint-in-public",
  description: "Nothing in the public environment references an address of the private zone.",
  reason: "A public service configured with a private endpoint is a bridge across the isolation, whatever the firewall says today.",
  source: "security-and-dr.md rule 16",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    if (environmentOfStack(t, args.resources) !== "public") return;
    for (const r of args.resources) {
      const hits = [...new Set(addressesIn(r.props).filter((a) => inAnyCidr(a, t.environments.private.cidrs)))];
      if (hits.length > 0) report(`${r.name} (${r.type}) references the private zone's ${hits.join(", ")}`, r.urn);
    }
  },
});
