import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { BackupJobPlan } from "../lib/backup/jobs";
import type { BackupConfig } from "../lib/config/schema";

export interface BackupsArgs {
  pbs: BackupConfig["pbs"];
  /** Nodes that may use the PBS storage. */
  nodes: string[];
  password: pulumi.Input<string>;
  /** The client-side encryption key; Proxmox generates one when absent (output `generatedEncryptionKey`). */
  encryptionKey?: pulumi.Input<string>;
  jobs: BackupJobPlan[];
  fleecing: boolean;
}

/**
 * Image-level backups: the Proxmox Backup Server datastore as a storage (client-side encrypted, certificate pinned by
 * fingerprint) and one vzdump job per pool, with retention, fleecing and failure mail. The storage is protected: the
 * jobs and every restore depend on it.
 */
export class Backups extends pulumi.ComponentResource {
  public readonly storageId: string;
  /** The encryption key Proxmox generated, when none was configured (secret): keep a copy off the box. */
  public readonly generatedEncryptionKey?: pulumi.Output<string>;
  public readonly jobIds: string[];

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:backup:Backups", name, {}, opts);
    const p = args.pbs;
    const storage = new proxmoxve.storage.Pbs(
      `${name}-pbs`,
      {
        resourceId: p.storageId,
        server: p.server,
        datastore: p.datastore,
        ...(p.namespace ? { namespace: p.namespace } : {}),
        username: p.username,
        password: pulumi.secret(args.password),
        fingerprint: p.fingerprint,
        contents: ["backup"],
        nodes: args.nodes,
        ...(args.encryptionKey ? { encryptionKey: pulumi.secret(args.encryptionKey) } : { generateEncryptionKey: true }),
      },
      { parent: this, protect: true, additionalSecretOutputs: ["password", "encryptionKey", "generatedEncryptionKey"] },
    );

    this.jobIds = [];
    for (const j of args.jobs) {
      new proxmoxve.backup.Job(
        `${name}-${j.id}`,
        {
          resourceId: j.id,
          pool: j.pool,
          storage: p.storageId,
          schedule: j.schedule,
          mode: j.mode,
          compress: "zstd",
          enabled: true,
          pruneBackups: j.pruneBackups,
          ...(args.fleecing ? { fleecing: { enabled: true, storage: j.fleecingStorage } } : {}),
          // Container backups to PBS read only what changed since the last one.
          pbsChangeDetectionMode: "metadata",
          notesTemplate: "{{guestname}} ({{vmid}}) by ai-dualstack",
          mailnotification: "failure",
          repeatMissed: true,
        },
        { parent: this, dependsOn: [storage] },
      );
      this.jobIds.push(j.id);
    }
    this.storageId = p.storageId;
    this.generatedEncryptionKey = args.encryptionKey ? undefined : pulumi.secret(storage.generatedEncryptionKey);
    this.registerOutputs({ storageId: this.storageId, jobIds: this.jobIds });
  }
}
