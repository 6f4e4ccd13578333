// The file-level backup plan: one restic repository per environment on the backup LXC, and what each environment's
// guests stream into it. Pure data from the configs, for the host's ResticServer and the environments' clients.
import type { BackupConfig, EnvironmentConfig } from "../config/schema";
import { DATA_MOUNT_POINT, dockerDaemonConfig } from "../cloud-init";
import { TEXTFILE_DIR } from "../monitoring/telemetry";
import { resticUser, type ResticRepository, type StreamSource } from "./restic";

export const RESTIC_KEY_FILE = "/root/.ssh/ai-dualstack-restic";
export const resticPasswordFile = (repo: string) => `/etc/ai-dualstack/restic-${repo}.pw`;

/** The Command that installs restic on one of an environment's machines ("gpu-vm", "postgres", "redis"). */
export const resticInstallName = (env: string, machine: string) => `${env}-${machine}-restic`;

/** The repository's directory on the backup LXC's data volume. */
export const resticRoot = (backupDataPath: string) => `${backupDataPath}/restic`;

/** How a client reaches its environment's repository: sftp to the chrooted account on the backup LXC. */
export const resticRemote = (repo: string, backupIp: string) => `sftp:${resticUser(repo)}@${backupIp}:/repo`;

export function resticRepository(name: string, location: string, restic: BackupConfig["restic"], sources: StreamSource[]): ResticRepository {
  return {
    name,
    location,
    passwordFile: resticPasswordFile(name),
    sshKey: RESTIC_KEY_FILE,
    sources,
    retention: restic.retention,
    schedule: { backup: restic.backup, check: restic.check, forget: restic.forget },
    checkParts: restic.checkParts,
    metricsDir: TEXTFILE_DIR,
  };
}

/** What each of an environment's machines streams into the repository, by machine ("gpu-vm", "postgres", "redis"). */
/** Docker's data root where the daemon keeps its default (the cicd container's engine). */
export const DEFAULT_DOCKER_ROOT = "/var/lib/docker";

/** Where Docker keeps a compose project's named volume. */
export function volumeDir(project: string, v: string, dockerRoot = DEFAULT_DOCKER_ROOT): string {
  return `${dockerRoot}/volumes/${project}_${v}/_data`;
}

/**
 * A compose project's named volume as a stream source (its directory under the engine's data root, as a tar). The GPU
 * VMs' engines keep their data on the data disk (lib/cloud-init.ts dockerDaemonConfig), not in /var/lib/docker.
 */
export function volumeSource(project: string, v: string, dockerRoot = DEFAULT_DOCKER_ROOT): StreamSource {
  const dir = volumeDir(project, v, dockerRoot);
  return { name: `volume-${v}`, host: "local", dump: `tar -C ${dir} -cf - .`, load: `mkdir -p ${dir} && tar -C ${dir} -xpf -`, file: `${v}.tar` };
}

export function environmentSources(c: EnvironmentConfig, project: string, volumes: string[]): Record<string, StreamSource[]> {
  const redisData = c.containers.redis.data?.path ?? "/var/lib/redis";
  return {
    "gpu-vm": volumes.map((v) => volumeSource(project, v, dockerDaemonConfig(DATA_MOUNT_POINT)["data-root"])),
    postgres: [
      {
        name: "postgres",
        host: "local",
        dump: "runuser -u postgres -- pg_dumpall --clean --if-exists",
        load: "runuser -u postgres -- psql -X -q -d postgres",
        file: "postgres.sql",
      },
    ],
    redis: [
      {
        name: "redis",
        host: "local",
        dump: `tar -C ${redisData} -cf - .`,
        load: `systemctl stop redis-server && tar -C ${redisData} -xpf - && chown -R redis:redis ${redisData} && systemctl start redis-server`,
        file: "redis.tar",
      },
    ],
  };
}
