import { guestEnvironment } from "../support/guests";
import type { Rule } from "../support/policy";
import { CT } from "../support/types";

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
