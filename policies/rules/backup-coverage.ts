import { guestKey, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";
import { BACKUP_JOB } from "../support/types";

export const backupCoverage: Rule = () => ({
  name: "backup-coverage",
  description: "Every guest is covered by a backup job with retention (advisory until the backup work lands).",
  reason: "Protection stops accidents; only backups recover from loss. Retention keeps the datastore from filling.",
  source: "security-and-dr.md rule 22; PVE vzdump jobs",
  enforcementLevel: "advisory",
  validateStack: (args, report) => {
    const jobs = args.resources.filter((r) => r.type === BACKUP_JOB);
    for (const g of args.resources) {
      if (!isGuest(g.type) || g.props.template === true) continue;
      const id = Number(guestKey(g.type, g.props)?.split(":")[1]);
      const covering = jobs.filter((j) => j.props.all === true || (j.props.vmids ?? []).map(Number).includes(id) || (j.props.pool && j.props.pool === g.props.poolId));
      if (covering.length === 0) report(`${g.name} (${id}) is covered by no backup job`, g.urn);
      else if (!covering.some((j) => j.props.pruneBackups && Object.keys(j.props.pruneBackups).length > 0)) report(`${g.name} (${id}) is backed up without retention (pruneBackups)`, g.urn);
    }
  },
});
