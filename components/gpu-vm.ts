import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { ADMIN_USER, renderGpuVmUserData, snippetFileName, type GpuVmUserDataInput } from "../lib/cloud-init";
import { renderFirstBootCheck } from "../lib/first-boot";
import { ipOf } from "../lib/net";
import { FirstBoot } from "./providers/first-boot";
import type { FirewallRule } from "../lib/firewall";
import type { GuestEnvironment } from "../lib/tags";
import { guestTags } from "../lib/tags";
import { GuestFirewall } from "./guest-firewall";

export interface GpuVmArgs {
  nodeName: string;
  env: GuestEnvironment & ("private" | "public");
  stack: string;
  vmId: number;
  /** VMID of the holder VM that owns the data disk; never started. */
  dataVmId: number;
  poolId: pulumi.Input<string>;
  /** zfspool datastore for the disks. */
  datastoreId: string;
  /** directory datastore for the cloud-init snippet. */
  filesDatastoreId: string;
  /** File id of the cloud image ("<datastore>:import/<file>"). */
  imageFileId: pulumi.Input<string>;
  cores: number;
  memoryGiB: number;
  hugepages?: "none" | "2" | "1024";
  osDiskGiB: number;
  dataDiskGiB: number;
  bridge: string;
  address: string;
  gateway: string;
  nameservers: string[];
  searchDomain?: string;
  /** The cluster PCI mapping of this environment's GPU. */
  gpuMapping: string;
  /** What the guest's first boot does (lib/cloud-init.ts gpuVmUserDataInput). */
  userData: GpuVmUserDataInput;
  agentTimeout: string;
  /** The first boot's wait: the admin user's SSH key (secret; the SSH agent when absent) and how long it may take. */
  firstBoot: { privateKey?: pulumi.Input<string>; timeoutSeconds: number };
  /** Firewall rules of this VM beyond its zone's group (the ports its services publish). */
  firewallRules?: FirewallRule[];
  /** Debugging only (default true); the policy pack rejects false. */
  nicFirewall?: boolean;
}

/**
 * A GPU-passthrough Ubuntu VM: q35 + OVMF, CPU type host with NUMA, the GPU through its PCI mapping (pcie), cloud-init
 * user-data as a content-hash-named snippet, guest agent with a timeout, NIC on its zone bridge with the firewall
 * on, protection, no purge on destroy, a fixed VMID with delete-before-replace, and a data disk owned by a separate
 * holder VM so that it survives the replacement of this one.
 */
/**
 * The path of the holder's data disk the GPU VM attaches: the one the provider reports once the holder exists. An
 * empty path is refused, since the provider would then allocate a new, empty disk in place of the data.
 */
export function holderDiskPath(name: string, disk: { pathInDatastore?: string } | undefined, resource?: pulumi.Resource): string {
  if (disk?.pathInDatastore) return disk.pathInDatastore;
  throw new pulumi.ResourceError(
    `GpuVm ${name}: the data disk holder ${name}-data reports no disk path; refusing to attach the data disk without one`,
    resource,
  );
}

export class GpuVm extends pulumi.ComponentResource {
  public readonly vmId: number;
  public readonly name: string;
  public readonly address: string;
  public readonly userDataFileId: pulumi.Output<string>;
  /** Completes when the first boot is over: depend on it to use the VM's Docker engine. */
  public readonly firstBoot: FirstBoot;

  constructor(name: string, args: GpuVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:guest:GpuVm", name, {}, opts);
    const tags = guestTags(args.env, args.stack, ["gpu"]);
    const vmName = args.userData.hostname;
    const userData = renderGpuVmUserData(args.userData);

    // A new file name per content: the snippet is immutable, and a changed one is a deliberate VM replacement.
    const snippet = new proxmoxve.FileLegacy(
      `${name}-user-data`,
      {
        nodeName: args.nodeName,
        datastoreId: args.filesDatastoreId,
        contentType: "snippets",
        sourceRaw: { fileName: snippetFileName(vmName, userData), data: userData },
      },
      { parent: this },
    );

    // The holder owns the data disk (vm-<dataVmId>-disk-0); destroying or replacing the GPU VM leaves it alone.
    const holder = new proxmoxve.VmLegacy(
      `${name}-data`,
      {
        nodeName: args.nodeName,
        vmId: args.dataVmId,
        name: `${vmName}-data`,
        description: `Holds the data disk of ${vmName}. Never started. Managed by ai-dualstack.`,
        poolId: args.poolId,
        tags: guestTags(args.env, args.stack, ["data-holder"]),
        started: false,
        onBoot: false,
        protection: true,
        purgeOnDestroy: false,
        deleteUnreferencedDisksOnDestroy: false,
        disks: [{ interface: "scsi0", datastoreId: args.datastoreId, size: args.dataDiskGiB, fileFormat: "raw", discard: "on", iothread: true, backup: true }],
        networkDevices: [],
      },
      { parent: this, protect: true, retainOnDelete: true, deleteBeforeReplace: true },
    );

    const dataDisk = holder.disks.apply((disks) => disks?.[0]);
    const vm = new proxmoxve.VmLegacy(
      `${name}-vm`,
      {
        nodeName: args.nodeName,
        vmId: args.vmId,
        name: vmName,
        description: `${args.env} GPU VM (${args.gpuMapping}). Managed by ai-dualstack.`,
        poolId: args.poolId,
        tags,
        machine: "q35",
        bios: "ovmf",
        efiDisk: { datastoreId: args.datastoreId, type: "4m", preEnrolledKeys: false },
        operatingSystem: { type: "l26" },
        cpu: { type: "host", cores: args.cores, sockets: 1, numa: true },
        memory: {
          dedicated: args.memoryGiB * 1024,
          floating: 0, // no ballooning: the GPU pins guest memory for DMA
          ...(args.hugepages && args.hugepages !== "none" ? { hugepages: args.hugepages, keepHugepages: true } : {}),
        },
        scsiHardware: "virtio-scsi-single",
        disks: [
          {
            interface: "scsi0",
            datastoreId: args.datastoreId,
            importFrom: args.imageFileId,
            size: args.osDiskGiB,
            discard: "on",
            iothread: true,
            ssd: true,
            backup: true,
          },
          {
            interface: "scsi1",
            datastoreId: args.datastoreId,
            // The holder's disk by its path. Never an empty path: the provider would allocate a new, empty disk.
            pathInDatastore: dataDisk.apply((d) => holderDiskPath(name, d, this)),
            fileFormat: "raw",
            size: args.dataDiskGiB,
            discard: "on",
            iothread: true,
            backup: true,
          },
        ],
        hostpcis: [{ device: "hostpci0", mapping: args.gpuMapping, pcie: true, rombar: true, xvga: false }],
        vga: { type: "std" },
        serialDevices: [{ device: "socket" }],
        networkDevices: [{ bridge: args.bridge, model: "virtio", firewall: args.nicFirewall ?? true }],
        initialization: {
          datastoreId: args.datastoreId,
          interface: "ide2",
          userDataFileId: snippet.id,
          ipConfigs: [{ ipv4: { address: args.address, gateway: args.gateway } }],
          dns: { servers: args.nameservers, domain: args.searchDomain },
        },
        agent: { enabled: true, timeout: args.agentTimeout, trim: true },
        onBoot: true,
        started: true,
        protection: true,
        purgeOnDestroy: false,
        deleteUnreferencedDisksOnDestroy: false,
        stopOnDestroy: true,
      },
      { parent: this, protect: true, deleteBeforeReplace: true, dependsOn: [holder] },
    );

    // Over when cloud-init is done (and its reboot behind it) and Docker answers: what uses the VM waits for this.
    this.firstBoot = new FirstBoot(
      `${name}-first-boot`,
      {
        host: ipOf(args.address),
        user: ADMIN_USER,
        ...(args.firstBoot.privateKey !== undefined ? { privateKey: pulumi.secret(args.firstBoot.privateKey) } : {}),
        check: renderFirstBootCheck({ expectReboot: args.userData.nvidia }),
        timeoutSeconds: args.firstBoot.timeoutSeconds,
        trigger: snippet.id,
      },
      { parent: this, dependsOn: [vm], additionalSecretOutputs: ["privateKey"] },
    );

    new GuestFirewall(
      `${name}-firewall`,
      {
        nodeName: args.nodeName,
        vmId: args.vmId,
        zone: args.env,
        address: args.address,
        rules: args.firewallRules,
      },
      { parent: this, dependsOn: [vm] },
    );

    this.vmId = args.vmId;
    this.name = vmName;
    this.address = args.address;
    this.userDataFileId = snippet.id;
    this.registerOutputs({ vmId: this.vmId, name: this.name, address: this.address, userDataFileId: this.userDataFileId });
  }
}
