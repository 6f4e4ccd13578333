// The image-level backup plan: one vzdump job per resource pool (the platform's and each environment's), so that
// every guest placed in a pool is backed up without anyone adding it to a list. Pure data for the Backups component.
import type { BackupConfig, HostConfig } from "../config/schema";
import { ENVIRONMENTS } from "../config/schema";
import { datastoresFor, mirrorPoolOf } from "../environment-slice";

export interface BackupJobPlan {
  /** The job id in /etc/pve/jobs.cfg. */
  id: string;
  pool: string;
  /** The datastore fleecing images are written to (the pool's own guest storage). */
  fleecingStorage: string;
  schedule: string;
  mode: BackupConfig["mode"];
  /** vzdump's prune-backups, as Proxmox spells the keys. */
  pruneBackups: Record<string, string>;
}

export function pruneSettings(r: { daily: number; weekly: number; monthly: number }): Record<string, string> {
  return Object.fromEntries((["daily", "weekly", "monthly"] as const).filter((k) => r[k] > 0).map((k) => [`keep-${k}`, String(r[k])]));
}

export function backupJobs(c: HostConfig): BackupJobPlan[] {
  const b = c.backup;
  const job = (scope: string, pool: string, mirror: string): BackupJobPlan => ({
    id: `ai-dualstack-${scope}`,
    pool,
    fleecingStorage: datastoresFor(mirrorPoolOf(c, mirror), scope).guests,
    schedule: b.schedule,
    mode: b.mode,
    pruneBackups: pruneSettings(b.retention),
  });
  return [job("platform", c.platform.pool, c.platform.mirror), ...ENVIRONMENTS.map((env) => job(env, c.environments[env].pool, c.environments[env].mirror))];
}
