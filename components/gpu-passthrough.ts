import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { GpuConfig } from "../lib/config/schema";
import { contentHash } from "../lib/cloud-init";
import { renderPrepareScript, renderRebootScript, renderVerifyScript, renderWaitScript } from "../lib/gpu-host-prep";

export interface GpuPassthroughArgs {
  nodeName: string;
  nodeAddress: string;
  cpuVendor: "intel" | "amd";
  bootloader: "auto" | "grub" | "systemd-boot";
  gpus: GpuConfig[];
  connection: command.types.input.remote.ConnectionArgs;
}

/**
 * GPU passthrough in the graph: host preparation over SSH (IOMMU, vfio, blacklist), a reboot only when that changed
 * something, a wait for the host to return, a verification of every GPU, then one complete PCI resource mapping per
 * GPU (with its IOMMU group and subsystem id, without which a VM using it does not start).
 */
export class GpuPassthrough extends pulumi.ComponentResource {
  /** Mapping name per GPU mapping key. */
  public readonly mappings: Record<string, string>;

  constructor(name: string, args: GpuPassthroughArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:GpuPassthrough", name, {}, opts);
    const prep = { cpuVendor: args.cpuVendor, bootloader: args.bootloader, gpus: args.gpus };
    const prepareScript = renderPrepareScript(prep);
    const verifyScript = renderVerifyScript(prep);
    // Any change of the scripts re-runs the whole chain.
    const triggers = [contentHash(prepareScript + verifyScript)];

    const prepare = new command.remote.Command(
      `${name}-prepare`,
      {
        connection: args.connection,
        create: prepareScript,
        triggers,
      },
      { parent: this },
    );
    const reboot = new command.remote.Command(
      `${name}-reboot`,
      {
        connection: args.connection,
        create: renderRebootScript(),
        triggers,
      },
      { parent: this, dependsOn: [prepare] },
    );
    const wait = new command.local.Command(
      `${name}-wait`,
      {
        create: renderWaitScript(),
        interpreter: ["/bin/bash", "-c"],
        environment: { HOST: args.nodeAddress, REBOOT_STATUS: reboot.stdout },
        triggers,
      },
      { parent: this },
    );
    const verify = new command.remote.Command(
      `${name}-verify`,
      {
        connection: args.connection,
        create: verifyScript,
        triggers,
      },
      { parent: this, dependsOn: [wait] },
    );

    this.mappings = {};
    for (const gpu of args.gpus) {
      new proxmoxve.hardware.mapping.Pci(
        `${name}-${gpu.mapping}`,
        {
          name: gpu.mapping,
          comment: `${gpu.model} for the ${gpu.environment} environment (ai-dualstack)`,
          maps: [
            {
              id: gpu.deviceId,
              node: args.nodeName,
              path: gpu.path,
              iommuGroup: gpu.iommuGroup,
              subsystemId: gpu.subsystemId,
            },
          ],
          mediatedDevices: false,
        },
        { parent: this, dependsOn: [verify] },
      );
      this.mappings[gpu.mapping] = gpu.mapping;
    }
    this.registerOutputs({ mappings: this.mappings });
  }
}
