import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ClusterFirewall } from "../../components/cluster-firewall";
import { EnvironmentAccess } from "../../components/environment-access";
import { GpuPassthrough } from "../../components/gpu-passthrough";
import { StorageMirror } from "../../components/storage-mirror";
import { ZoneNetwork } from "../../components/zone-network";
import { loadConfig } from "../../lib/config/load";
import { committedConfig } from "../helpers/config";
import { T, byType, one, underMocks } from "../helpers/mocks";

const loaded = loadConfig(committedConfig("host"));
if (loaded.role !== "host") throw new Error("host config expected");
const host = loaded.config;
const connection = { host: "192.168.10.2", user: "root", privateKey: pulumi.secret("KEY") };

describe("StorageMirror", () => {
  it("adopts an existing pool: datasets created if missing, storages registered, all kept on destroy", async () => {
    const rs = await underMocks(
      () =>
        new StorageMirror("pve1-tank", {
          nodeName: "pve1",
          pool: "tank",
          devices: ["/dev/disk/by-id/a", "/dev/disk/by-id/b"],
          datasets: ["private", "public"],
          connection,
        }),
    );
    expect(byType(rs, T.zfs)).toHaveLength(0);
    const cmds = byType(rs, T.remote);
    expect(cmds).toHaveLength(2);
    for (const c of cmds) {
      expect((c.inputs as any).create).toMatch(/zfs list -H -o name tank\/\w+ >\/dev\/null 2>&1 \|\| zfs create tank\/\w+/);
      expect((c.inputs as any).delete).toBeUndefined(); // never destroys data
      expect(c.options.retainOnDelete).toBe(true);
    }
    expect(byType(rs, T.zfspool).map((r) => [(r.inputs as any).resourceId, (r.inputs as any).zfsPool])).toEqual([
      ["tank-private", "tank/private"],
      ["tank-public", "tank/public"],
    ]);
    expect(byType(rs, T.directory).map((r) => (r.inputs as any).path)).toEqual(["/tank/private-files", "/tank/public-files"]);
    // Local to the node: the provider's default would mark the directories shared by every node.
    for (const r of byType(rs, T.directory)) expect((r.inputs as any).shared).toBe(false);
    for (const r of [...byType(rs, T.zfspool), ...byType(rs, T.directory)]) expect(r.options).toMatchObject({ protect: true, retainOnDelete: true });
  });

  it("creates the pool only when asked, as a protected, retained mirror", async () => {
    const rs = await underMocks(
      () =>
        new StorageMirror("pve1-tank", {
          nodeName: "pve1",
          pool: "tank",
          devices: ["/dev/disk/by-id/a", "/dev/disk/by-id/b"],
          create: true,
          datasets: ["private"],
          connection,
        }),
    );
    const zfs = one(rs, T.zfs);
    expect(zfs.inputs).toMatchObject({
      raidlevel: "mirror",
      devices: ["/dev/disk/by-id/a", "/dev/disk/by-id/b"],
      ashift: 12,
      compression: "lz4",
      cleanupDisks: false,
    });
    expect(zfs.options).toMatchObject({ protect: true, retainOnDelete: true });
    expect(one(rs, T.remote).options.dependsOn).toContain(zfs.urn);
  });
});

describe("ZoneNetwork", () => {
  it("a VLAN sub-interface and a bridge on it, with no host address", async () => {
    const rs = await underMocks(() => new ZoneNetwork("pve1-private", { nodeName: "pve1", zone: "private", uplink: "enp5s0", bridge: "vmbr20", vlanId: 20 }));
    expect(one(rs, T.vlan).inputs).toMatchObject({ name: "enp5s0.20", interface: "enp5s0", vlan: 20 });
    const br = one(rs, T.bridge);
    expect(br.inputs).toMatchObject({ name: "vmbr20", ports: ["enp5s0.20"], vlanAware: false });
    expect((br.inputs as any).address).toBeUndefined();
    expect((br.inputs as any).gateway).toBeUndefined();
  });
});

describe("GpuPassthrough", () => {
  const node = host.nodes[0];
  it("prepares, reboots if needed, waits, verifies, then maps each GPU completely", async () => {
    const rs = await underMocks(
      () =>
        new GpuPassthrough("pve1-gpus", { nodeName: "pve1", nodeAddress: node.address, cpuVendor: "intel", bootloader: "auto", gpus: node.gpus, connection }),
    );
    const [prepare, reboot, verify] = ["pve1-gpus-prepare", "pve1-gpus-reboot", "pve1-gpus-verify"].map((n) => one(rs, T.remote, n));
    const wait = one(rs, T.local);
    expect((prepare.inputs as any).create).toContain("options vfio-pci ids=10de:228e,10de:22e8,10de:2504,10de:2b85");
    expect(reboot.options.dependsOn).toContain(prepare.urn);
    expect((wait.inputs as any).environment.HOST).toBe("192.168.10.2");
    expect(verify.options.dependsOn).toContain(wait.urn);
    const maps = byType(rs, T.pci);
    expect(maps.map((m) => (m.inputs as any).name)).toEqual(["rtx5090", "rtx3060"]);
    expect((maps[0].inputs as any).maps).toEqual([{ id: "10de:2b85", node: "pve1", path: "0000:02:00", iommuGroup: 14, subsystemId: "10de:2104" }]);
    for (const m of maps) expect(m.options.dependsOn).toContain(verify.urn);
    // Changing a script re-runs the chain: every step carries the same content trigger.
    const triggers = [prepare, reboot, verify, wait].map((c) => JSON.stringify((c.inputs as any).triggers));
    expect(new Set(triggers).size).toBe(1);
  });
});

describe("EnvironmentAccess", () => {
  it("a pool, roles, an expiring user and privilege-separated token, ACLs for the token only on its own objects", async () => {
    let token: pulumi.Output<string> | undefined;
    const rs = await underMocks(() => {
      token = new EnvironmentAccess("public-access", {
        env: "public",
        pool: "ai-public",
        bridge: "vmbr30",
        gpuMappings: ["rtx3060"],
        datastores: ["tank-public", "files-public"],
        nodes: ["pve1"],
        expires: "2027-11-30",
      }).token;
    });
    expect(one(rs, T.pool).inputs).toMatchObject({ poolId: "ai-public" });
    expect(one(rs, T.pool).options.protect).toBe(true);
    expect(one(rs, T.user).inputs).toMatchObject({ userId: "ai-public@pve", enabled: true, expirationDate: "2027-11-30T23:59:59Z" });
    expect(one(rs, T.token).inputs).toMatchObject({ tokenName: "deploy", privilegesSeparation: true, expirationDate: "2027-11-30T23:59:59Z" });
    const acls = byType(rs, T.acl).map((a) => a.inputs as any);
    expect(acls.every((a) => a.tokenId === "ai-public@pve!deploy" && a.userId === undefined)).toBe(true);
    expect(acls.map((a) => a.path).sort()).toEqual([
      "/mapping/pci/rtx3060",
      "/nodes/pve1",
      "/pool/ai-public",
      "/sdn/zones/localnetwork/vmbr30",
      "/storage/files-public",
      "/storage/tank-public",
    ]);
    expect(await pulumi.isSecret(token!)).toBe(true);
  });
});

describe("ClusterFirewall", () => {
  it("the admin rules and groups exist before the firewall is switched on with DROP", async () => {
    const rs = await underMocks(
      () => new ClusterFirewall("cluster-firewall", { networks: host.networks, monitoringIp: "10.10.0.12", packageCacheIp: "10.10.0.14" }),
    );
    const fw = one(rs, T.clusterFirewall);
    expect(fw.inputs).toMatchObject({ enabled: true, inputPolicy: "DROP" });
    const rules = one(rs, T.rules);
    expect(fw.options.dependsOn).toContain(rules.urn);
    for (const g of byType(rs, T.group)) expect(fw.options.dependsOn).toContain(g.urn);
    expect(one(rs, T.ipset).inputs).toMatchObject({ name: "management", cidrs: [{ name: "192.168.10.0/28", comment: "admin network" }] });
    expect(
      byType(rs, T.group)
        .map((g) => (g.inputs as any).name)
        .sort(),
    ).toEqual(["sg-private", "sg-public", "sg-services"]);
  });
});
