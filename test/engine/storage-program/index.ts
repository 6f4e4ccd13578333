// The host stack's storages and backup jobs, made by the program's own components (StorageMirror, Backups) against
// the Proxmox API stand-in of the engine test: the resources upstream's published plugin panics on in Create
// (muhlba91/pulumi-proxmoxve#967), here created, read back and compared by the real provider logic.
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { Backups } from "../../../components/backups";
import { StorageMirror } from "../../../components/storage-mirror";

const config = new pulumi.Config();
const provider = new proxmoxve.Provider("proxmox", { endpoint: config.require("endpoint"), apiToken: config.requireSecret("apiToken"), insecure: true });
const mirror = new StorageMirror(
  "mirror",
  { nodeName: "pve1", pool: "tank", devices: [], datasets: ["private"], connection: { host: "127.0.0.1", user: "root" } },
  { providers: [provider] },
);
const backups = new Backups(
  "backups",
  {
    pbs: {
      storageId: "pbs",
      server: "192.168.10.5",
      datastore: "ai-dualstack",
      namespace: "pve1",
      username: "pve1@pbs!backup",
      fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
    },
    nodes: ["pve1"],
    password: config.requireSecret("pbsPassword"),
    jobs: [
      {
        id: "ai-dualstack-private",
        pool: "ai-private",
        fleecingStorage: "tank-private",
        schedule: "*-*-* 01:30",
        mode: "snapshot",
        pruneBackups: { "keep-daily": "7" },
      },
    ],
    fleecing: true,
  },
  { providers: [provider] },
);

export const datastores = mirror.datastores;
export const storageId = backups.storageId;
