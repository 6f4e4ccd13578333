import { isGuest } from "../support/guests";
import type { Rule } from "../support/policy";
import { VM } from "../support/types";

export const statefulGuestsProtected: Rule = () => ({
  name: "stateful-guests-protected",
  description: "Guests are protected in Pulumi and in Proxmox, and VMs never purge or drop their disks on destroy.",
  reason: "A teardown drill or a mistaken destroy must not take data with it; the provider's defaults purge.",
  source: "security-and-dr.md rules 24–25; proxmox.md §4",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    if (!args.opts.protect) report(`${args.name} is not protected in Pulumi (protect: true)`);
    if (args.props.protection !== true) report(`${args.name} is not protected in Proxmox (protection: true)`);
    if (args.type === VM) {
      if (args.props.purgeOnDestroy !== false) report(`${args.name} would be purged from jobs and replication on destroy (purgeOnDestroy must be false)`);
      if (args.props.deleteUnreferencedDisksOnDestroy !== false)
        report(`${args.name} would delete unreferenced disks on destroy (deleteUnreferencedDisksOnDestroy must be false)`);
    }
  },
});
