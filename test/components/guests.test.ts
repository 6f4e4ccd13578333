import { describe, expect, it } from "vitest";
import { GpuVm, holderDiskPath, type GpuVmArgs } from "../../components/gpu-vm";
import { ServiceContainer } from "../../components/service-container";
import { DATA_DEVICE, DATA_MOUNT_POINT } from "../../lib/cloud-init";
import { COMPUTED_MARK } from "../../ops/engine";
import { T, byType, one, underMocks } from "../helpers/mocks";

const vmArgs: GpuVmArgs = {
  nodeName: "pve1",
  env: "private",
  stack: "private",
  vmId: 200,
  dataVmId: 201,
  poolId: "ai-private",
  datastoreId: "tank-private",
  filesDatastoreId: "files-private",
  imageFileId: "files-private:import/noble.qcow2",
  cores: 16,
  memoryGiB: 64,
  osDiskGiB: 64,
  dataDiskGiB: 1000,
  bridge: "vmbr20",
  address: "10.20.0.10/24",
  gateway: "10.20.0.1",
  nameservers: ["10.20.0.1"],
  searchDomain: "private.lan",
  gpuMapping: "rtx5090",
  userData: {
    hostname: "private-gpu",
    fqdn: "private-gpu.private.lan",
    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWFkbWluLWV4YW1wbGUta2V5LW5vdC1yZWFs a@b"],
    os: "ubuntu-24.04",
    nvidia: true,
    nvidiaDriverPackage: "nvidia-driver-570-server-open",
    dataDevice: DATA_DEVICE,
    dataMountPoint: DATA_MOUNT_POINT,
    env: "private",
  },
  agentTimeout: "15m",
  firstBoot: { timeoutSeconds: 2700 },
};

describe("GpuVm", () => {
  it("passes the GPU only through its mapping, on q35/OVMF, with the NIC firewall on", async () => {
    const rs = await underMocks(() => new GpuVm("gpu", vmArgs));
    const vm = one(rs, T.vm, "gpu-vm").inputs as any;
    expect(vm.hostpcis).toEqual([{ device: "hostpci0", mapping: "rtx5090", pcie: true, rombar: true, xvga: false }]);
    expect(vm.hostpcis[0].id).toBeUndefined();
    expect(vm).toMatchObject({ machine: "q35", bios: "ovmf", vmId: 200, poolId: "ai-private", nodeName: "pve1" });
    expect(vm.efiDisk).toMatchObject({ type: "4m", datastoreId: "tank-private" });
    expect(vm.cpu).toMatchObject({ type: "host", numa: true, cores: 16 });
    expect(vm.memory).toEqual({ dedicated: 65536, floating: 0 });
    expect(vm.networkDevices).toEqual([{ bridge: "vmbr20", model: "virtio", firewall: true }]);
    expect(vm.tags).toEqual(["env-private", "gpu", "managed-by-ai-dualstack", "stack-private"]);
  });

  it("boots from its cloud-init snippet with keys only, and waits on the agent with a timeout", async () => {
    const rs = await underMocks(() => new GpuVm("gpu", vmArgs));
    const vm = one(rs, T.vm, "gpu-vm").inputs as any;
    const snippet = one(rs, T.file).inputs as any;
    expect(snippet.contentType).toBe("snippets");
    expect(snippet.datastoreId).toBe("files-private");
    expect(snippet.sourceRaw.fileName).toMatch(/^private-gpu-user-data-[0-9a-f]{12}\.yaml$/);
    expect(snippet.sourceRaw.data).toContain("ssh_pwauth: false");
    expect(vm.initialization.userDataFileId).toBe(COMPUTED_MARK);
    expect(vm.initialization.userAccount).toBeUndefined();
    expect(vm.initialization.ipConfigs).toEqual([{ ipv4: { address: "10.20.0.10/24", gateway: "10.20.0.1" } }]);
    expect(vm.agent).toEqual({ enabled: true, timeout: "15m", trim: true });
  });

  it("is protected, never purged, replaced delete-first; its data disk lives in a retained holder VM", async () => {
    const rs = await underMocks(() => new GpuVm("gpu", vmArgs));
    const vm = one(rs, T.vm, "gpu-vm");
    const holder = one(rs, T.vm, "gpu-data");
    expect(vm.inputs).toMatchObject({ protection: true, purgeOnDestroy: false, deleteUnreferencedDisksOnDestroy: false });
    expect(vm.options).toMatchObject({ protect: true, deleteBeforeReplace: true });
    expect(holder.inputs).toMatchObject({
      vmId: 201,
      started: false,
      onBoot: false,
      protection: true,
      purgeOnDestroy: false,
      deleteUnreferencedDisksOnDestroy: false,
      networkDevices: [],
    });
    expect(holder.options).toMatchObject({ protect: true, retainOnDelete: true });
    expect((holder.inputs as any).disks).toEqual([expect.objectContaining({ interface: "scsi0", size: 1000, backup: true })]);
    const disks = (vm.inputs as any).disks;
    expect(disks[1]).toMatchObject({ interface: "scsi1", size: 1000, backup: true });
    // Until the holder exists its disk's path is not known; the GPU VM attaches that path, never an empty one.
    expect(disks[1].pathInDatastore).toBe(COMPUTED_MARK);
    expect(vm.options.dependsOn).toContain(holder.urn);
  });

  it("attaches the holder's disk by the path the provider reports, and refuses to attach one without a path", async () => {
    const holderDisks = (path: string) => (type: string, inputs: Record<string, unknown>) =>
      type === T.vm && inputs.vmId === 201 ? { ...inputs, disks: (inputs.disks as object[]).map((d) => ({ ...d, pathInDatastore: path })) } : inputs;
    const rs = await underMocks(() => new GpuVm("gpu", vmArgs), "test", holderDisks("vm-201-disk-0"));
    expect((one(rs, T.vm, "gpu-vm").inputs as any).disks[1].pathInDatastore).toBe("vm-201-disk-0");
    for (const disk of [undefined, {}, { pathInDatastore: "" }])
      expect(() => holderDiskPath("gpu", disk)).toThrow(
        "GpuVm gpu: the data disk holder gpu-data reports no disk path; refusing to attach the data disk without one",
      );
  });

  it("gets its own firewall: on, inbound DROP, MAC/IP filter with its address, its zone's group", async () => {
    const rs = await underMocks(
      () => new GpuVm("gpu", { ...vmArgs, env: "public", bridge: "vmbr30", address: "10.30.0.10/24", gateway: "10.30.0.1", gpuMapping: "rtx3060" }),
    );
    expect(one(rs, T.options).inputs).toMatchObject({ vmId: 200, enabled: true, inputPolicy: "DROP", outputPolicy: "DROP", macfilter: true, ipfilter: true });
    expect(one(rs, T.ipset).inputs).toMatchObject({ vmId: 200, name: "ipfilter-net0", cidrs: [{ name: "10.30.0.10" }] });
    expect((one(rs, T.rules).inputs as any).rules).toEqual([{ securityGroup: "sg-public", comment: "rules of the public zone" }]);
  });

  it("waits for its first boot after the VM exists: the check expects the driver's reboot, the key stays secret", async () => {
    const rs = await underMocks(
      () => new GpuVm("gpu", { ...vmArgs, firstBoot: { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END", timeoutSeconds: 600 } }),
    );
    const wait = one(rs, "pulumi-nodejs:dynamic/guest:FirstBoot", "gpu-first-boot");
    const inputs = wait.inputs as any;
    expect(inputs).toMatchObject({ host: "10.20.0.10", user: "ops", timeoutSeconds: 600 });
    expect(inputs.check).toContain('echo "waiting reboot"');
    expect(wait.options.dependsOn).toContain(one(rs, T.vm, "gpu-vm").urn);
    expect(wait.options.additionalSecretOutputs).toContain("privateKey");
    const noGpu = await underMocks(() => new GpuVm("gpu", { ...vmArgs, userData: { ...vmArgs.userData, nvidia: false } }));
    expect((one(noGpu, "pulumi-nodejs:dynamic/guest:FirstBoot", "gpu-first-boot").inputs as any).check).not.toContain("reboot");
  });

  it("applies hugepages only when asked", async () => {
    const rs = await underMocks(() => new GpuVm("gpu", { ...vmArgs, hugepages: "1024" }));
    expect((one(rs, T.vm, "gpu-vm").inputs as any).memory).toEqual({ dedicated: 65536, floating: 0, hugepages: "1024", keepHugepages: true });
  });
});

describe("ServiceContainer", () => {
  const ctArgs = {
    nodeName: "pve1",
    hostname: "private-postgres",
    service: "postgres",
    env: "private" as const,
    stack: "private",
    zone: "private" as const,
    poolId: "ai-private",
    datastoreId: "tank-private",
    templateFileId: "files-private:vztmpl/debian.tar.zst",
    bridge: "vmbr20",
    gateway: "10.20.0.1",
    nameservers: ["10.20.0.1"],
    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWFkbWluLWV4YW1wbGUta2V5LW5vdC1yZWFs a@b"],
    vmId: 210,
    cores: 4,
    memoryMiB: 8192,
    swapMiB: 512,
    diskGiB: 16,
    address: "10.20.0.21/24",
    data: { path: "/var/lib/postgresql", sizeGiB: 200 },
    features: ["nesting" as const],
    privileged: false,
    nicFirewall: true,
  };

  it("is unprivileged with only allowlisted features, and its data volume is backed up", async () => {
    const rs = await underMocks(() => new ServiceContainer("postgres", ctArgs));
    const ct = one(rs, T.ct).inputs as any;
    expect(ct.unprivileged).toBe(true);
    expect(ct.features).toEqual({ nesting: true, keyctl: false, fuse: false, mknod: false });
    expect(ct.mountPoints).toEqual([{ volume: "tank-private", size: "200G", path: "/var/lib/postgresql", backup: true }]);
    expect(ct.networkInterfaces).toEqual([{ name: "eth0", bridge: "vmbr20", firewall: true }]);
    expect(ct.initialization.userAccount).toEqual({ keys: ctArgs.sshKeys });
    expect(ct.tags).toEqual(["env-private", "managed-by-ai-dualstack", "postgres", "stack-private"]);
  });

  it("is protected in Proxmox and Pulumi, replaced delete-first, firewalled", async () => {
    const rs = await underMocks(() => new ServiceContainer("postgres", { ...ctArgs, data: undefined, features: [] }));
    const ct = one(rs, T.ct);
    expect(ct.inputs).toMatchObject({ protection: true, vmId: 210, poolId: "ai-private" });
    expect(ct.options).toMatchObject({ protect: true, deleteBeforeReplace: true });
    expect((ct.inputs as any).features).toEqual({ nesting: false, keyctl: false, fuse: false, mknod: false });
    expect(one(rs, T.options).inputs).toMatchObject({ containerId: 210, enabled: true, inputPolicy: "DROP", macfilter: true, ipfilter: true });
    expect(byType(rs, T.ipset)).toHaveLength(1);
  });
});
