import { environmentOfStack, guestKey, isGuest, type Props } from "../support/guests";
import type { Rule } from "../support/policy";
import { BACKUP_JOB, PBS_STORAGE } from "../support/types";

/**
 * Backups are planned per resource pool in the platform stack (one vzdump job per pool, so a guest added to a pool
 * is covered without a list to maintain). In the platform stack: every pool of the topology has a job with
 * retention, writing to an encrypted PBS storage of the same stack; every guest there is covered. In an environment
 * stack: every guest is in one of its environment's pools — the pools the platform's jobs cover.
 */
/**
 * Whether a job selects a guest (its pool and id): by its pool, else by its vmids, else all of them. The provider
 * refuses `all` beside `pool` or `vmid`, so `all` (computed, not known at preview unless given) is read only for a
 * job that has neither.
 */
function selects(job: Props, pool: unknown, id?: number): boolean {
  if (job.pool) return job.pool === pool;
  const vmids: unknown[] = job.vmids ?? [];
  if (vmids.length > 0) return id !== undefined && vmids.map(Number).includes(id);
  return job.all === true;
}

export const backupCoverage: Rule = (t) => ({
  name: "backup-coverage",
  description: "Every guest is covered by a backup job with retention to an encrypted Proxmox Backup Server storage.",
  reason:
    "Protection stops accidents; only backups recover from loss. Retention keeps the datastore from filling; client-side encryption keeps a stolen datastore useless.",
  source: "security-and-dr.md rules 22 and 26; PVE vzdump jobs; PVE pve-storage-pbs (encryption)",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const env = environmentOfStack(t, args.resources);
    const jobs = args.resources.filter((r) => r.type === BACKUP_JOB);
    const retained = (j: (typeof jobs)[number]) => j.props.pruneBackups && Object.keys(j.props.pruneBackups).length > 0;
    if (env !== "platform") {
      // Covered by the platform stack's pool jobs: the guest must sit in one of its stack's environment's pools.
      const pools = env ? t.environments[env].pools : [];
      for (const g of args.resources) {
        if (!isGuest(g.type) || g.props.template === true || !env) continue;
        if (jobs.length === 0 && !pools.includes(g.props.poolId))
          report(
            `${g.name} is in pool ${JSON.stringify(g.props.poolId ?? null)}, which no backup job covers (the platform backs up ${Object.values(t.environments)
              .flatMap((e) => e.pools)
              .join(", ")})`,
            g.urn,
          );
      }
      if (jobs.length === 0) return;
    }
    const storages = new Map(args.resources.filter((r) => r.type === PBS_STORAGE).map((s) => [s.props.resourceId, s]));
    if (env === "platform") {
      for (const [name, facts] of Object.entries(t.environments)) {
        for (const pool of facts.pools) {
          const covering = jobs.filter((j) => selects(j.props, pool));
          if (covering.length === 0) report(`pool ${pool} (${name}) is covered by no backup job`);
          else if (!covering.some(retained)) report(`pool ${pool} (${name}) is backed up without retention (pruneBackups)`);
        }
      }
    }
    for (const j of jobs) {
      const storage = storages.get(j.props.storage);
      if (!storage)
        report(
          `backup job ${j.props.resourceId} writes to storage ${JSON.stringify(j.props.storage)}, which is no Proxmox Backup Server storage of this stack`,
          j.urn,
        );
      else if (!storage.props.encryptionKey && storage.props.generateEncryptionKey !== true)
        report(`PBS storage ${storage.props.resourceId} has no client-side encryption (encryptionKey or generateEncryptionKey)`, storage.urn);
    }
    for (const g of args.resources) {
      if (!isGuest(g.type) || g.props.template === true) continue;
      const id = Number(guestKey(g.type, g.props)?.split(":")[1]);
      const covering = jobs.filter((j) => selects(j.props, g.props.poolId, id));
      if (covering.length === 0) report(`${g.name} (${id}) is covered by no backup job`, g.urn);
      else if (!covering.some(retained)) report(`${g.name} (${id}) is backed up without retention (pruneBackups)`, g.urn);
    }
  },
});
