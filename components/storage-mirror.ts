import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { datastoresFor } from "../lib/environment-slice";

export interface StorageMirrorArgs {
  nodeName: pulumi.Input<string>;
  /** ZFS pool name, e.g. "tank". */
  pool: string;
  devices: pulumi.Input<string>[];
  /** Create the pool on `devices`. Off by default: an existing pool is adopted and never touched. */
  create?: boolean;
  ashift?: pulumi.Input<number>;
  compression?: pulumi.Input<string>;
  /** One dataset per tenant of the mirror (an environment, the platform): guest volumes plus a files directory. */
  datasets: string[];
  connection: command.types.input.remote.ConnectionArgs;
}

export interface MirrorDatastores {
  /** zfspool storage for guest disks and container volumes. */
  guests: string;
  /** directory storage for images, templates and cloud-init snippets. */
  files: string;
}

/**
 * A ZFS mirror registered as Proxmox datastores: for each dataset a zfspool storage (`<pool>-<dataset>`) and a
 * directory storage (`files-<dataset>`). Datasets are created if missing and never destroyed; the pool is created
 * only when asked, protected, and left in place by `pulumi destroy`.
 */
export class StorageMirror extends pulumi.ComponentResource {
  public readonly datastores: Record<string, MirrorDatastores>;

  constructor(name: string, args: StorageMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:StorageMirror", name, {}, opts);
    const keep = { parent: this, protect: true, retainOnDelete: true };

    const poolDeps: pulumi.Resource[] = [];
    if (args.create) {
      poolDeps.push(
        new proxmoxve.node.disk.Zfs(
          `${name}-pool`,
          {
            nodeName: args.nodeName,
            name: args.pool,
            raidlevel: "mirror",
            devices: args.devices,
            ashift: args.ashift ?? 12,
            compression: args.compression ?? "lz4",
            addStorage: false,
            cleanupConfig: false,
            cleanupDisks: false,
          },
          keep,
        ),
      );
    }

    this.datastores = {};
    for (const ds of args.datasets) {
      // zfs create only when the dataset is missing; there is deliberately no delete command.
      const dataset = new command.remote.Command(
        `${name}-${ds}-datasets`,
        {
          connection: args.connection,
          // Each dataset's test-or-create grouped, so a failed create fails the command rather than being followed by
          // the next one (A || B && C || D would run D after B failed, and exit with D's status).
          create: [
            `{ zfs list -H -o name ${args.pool}/${ds} >/dev/null 2>&1 || zfs create ${args.pool}/${ds}; }`,
            `{ zfs list -H -o name ${args.pool}/${ds}-files >/dev/null 2>&1 || zfs create ${args.pool}/${ds}-files; }`,
          ].join(" && "),
        },
        { parent: this, dependsOn: poolDeps, retainOnDelete: true },
      );

      const { guests, files } = datastoresFor(args.pool, ds);
      new proxmoxve.storage.Zfspool(
        `${name}-${ds}-guests`,
        {
          resourceId: guests,
          zfsPool: `${args.pool}/${ds}`,
          nodes: [args.nodeName],
          contents: ["images", "rootdir"],
          thinProvision: true,
          blocksize: "16k",
        },
        { ...keep, dependsOn: [dataset] },
      );
      new proxmoxve.storage.Directory(
        `${name}-${ds}-files`,
        {
          resourceId: files,
          path: `/${args.pool}/${ds}-files`,
          nodes: [args.nodeName],
          contents: ["import", "snippets", "vztmpl", "iso"],
          createBasePath: false,
          createSubdirs: true,
          // A directory on this node's pool: the provider's default (shared: true) would mark it as seen by every node.
          shared: false,
        },
        { ...keep, dependsOn: [dataset] },
      );
      this.datastores[ds] = { guests, files };
    }
    this.registerOutputs({ datastores: this.datastores });
  }
}
