import { datastoresOf, guestEnvironment, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";

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
