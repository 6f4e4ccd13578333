import type { Rule } from "../support/policy";
import { CT } from "../support/types";

export const lxcUnprivileged: Rule = (t) => ({
  name: "lxc-unprivileged",
  description: `Containers are unprivileged and use only allowlisted features (${t.allowedLxcFeatures.join(", ")}).`,
  reason: "A privileged container's root is the host's root; fuse, mknod and mount widen what an unprivileged one can reach.",
  source: "security-and-dr.md rules 12–13; PVE pct.adoc; proxmox.md §4 (unprivileged defaults to false)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== CT) return;
    if (args.props.unprivileged !== true) report(`${args.name} is a privileged container; set unprivileged: true`);
    for (const [feature, on] of Object.entries(args.props.features ?? {})) {
      if (feature === "mounts") {
        if (Array.isArray(on) && on.length > 0) report(`${args.name} enables the mount feature (${on.join(", ")}), which is not allowlisted`);
      } else if (on === true && !(t.allowedLxcFeatures as string[]).includes(feature)) {
        report(`${args.name} enables the LXC feature ${feature}, which is not allowlisted (${t.allowedLxcFeatures.join(", ")})`);
      }
    }
  },
});
