import { environmentOfStack, isTrue } from "../support/guests";
import type { Rule } from "../support/policy";
import { CLUSTER_FIREWALL } from "../support/types";

export const clusterFirewallEnabled: Rule = (t) => ({
  name: "cluster-firewall-enabled",
  description: "The host stack enables the cluster firewall with inbound DROP.",
  reason: "Without it no guest or host rule is enforced at all.",
  source: "security-and-dr.md rule 10; HSE §1.2.4–1.2.5",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const fws = args.resources.filter((r) => r.type === CLUSTER_FIREWALL);
    for (const fw of fws) {
      if (!isTrue(fw.props.enabled) || fw.props.inputPolicy !== "DROP")
        report(
          `${fw.name}: the cluster firewall must be enabled with inputPolicy DROP (enabled=${fw.props.enabled}, inputPolicy=${fw.props.inputPolicy ?? "ACCEPT"})`,
          fw.urn,
        );
    }
    if (fws.length === 0 && environmentOfStack(t, args.resources) === "platform") report("the host stack manages no cluster firewall (cluster.FirewallLegacy)");
  },
});
