import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load";
import { checkAgainstSlice, checkToken, environmentSlice } from "../../lib/environment-slice";
import { committedConfig, edit } from "../helpers/config";

const hostLoaded = loadConfig(committedConfig("host"));
if (hostLoaded.role !== "host") throw new Error("host");
const slice = environmentSlice(hostLoaded.config, "private", "ai-private@pve!deploy");

describe("the host → environment slice", () => {
  it("carries plain, config-derived values: zone, pool, GPU mapping, datastores, image ids", () => {
    expect(slice).toEqual({
      env: "private",
      zone: { bridge: "vmbr20", vlanId: 20, cidr: "10.20.0.0/24", gateway: "10.20.0.1" },
      pool: "ai-private",
      gpuMapping: "rtx5090",
      gpu: { catalog: "rtx-5090", name: "NVIDIA GeForce RTX 5090", vramBytes: 32_607 * 1024 ** 2, bandwidthBytesPerSecond: 1792e9, source: expect.any(String) },
      datastores: { guests: "tank-private", files: "files-private" },
      images: {
        cloudImage: "files-private:import/ubuntu-24.04-server-cloudimg-amd64.qcow2",
        lxcTemplate: "files-private:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst",
      },
      nodes: [{ name: "pve1", address: "192.168.10.2" }],
      tokenId: "ai-private@pve!deploy",
      operatorCidrs: ["192.168.10.0/28"],
      packages: { aptProxy: "http://10.10.0.14:3142" },
      vault: { address: "https://10.10.0.10:8200", mount: "kv-private", appRole: "ai-private" },
      // Its restic repository and the file-level schedule; nothing of the PBS (the host's own business).
      monitoring: {
        address: "10.10.0.12",
        logPushUrl: "https://10.10.0.12:3102/loki/api/v1/push",
        alloyVersion: "1.21.2",
        aptKeyFingerprints: ["B53AE77BADB630A683046005963FA27710458545"],
      },
      memory: { node: "pve1", budgetGiB: 52 },
      backup: {
        repository: "sftp:restic-private@10.10.0.13:/repo",
        restic: { backup: "*-*-* 02:30", check: "*-*-* 05:00", forget: "Sun *-*-* 04:00", checkParts: 7, retention: { daily: 7, weekly: 4, monthly: 6 } },
      },
    });
  });

  it("checks an environment's addresses and node against it", () => {
    const env = loadConfig(committedConfig("private"));
    if (env.role === "host") throw new Error("env");
    expect(checkAgainstSlice(env.config, slice, "h")).toEqual([]);
    const moved = loadConfig(edit(edit(committedConfig("private"), "containers", ["redis", "address"], "10.20.0.21/24"), "node", [], "pve2"));
    if (moved.role === "host") throw new Error("env");
    expect(checkAgainstSlice(moved.config, slice, "h")).toEqual([
      'ai-dualstack:node: expected one of the host\'s nodes ("pve1"), got "pve2"',
      "ai-dualstack:containers.redis.address: address 10.20.0.21 is already used by containers.postgres.address",
    ]);
    const gw = loadConfig(edit(committedConfig("private"), "gpuVm", ["address"], "10.20.0.1/24"));
    if (gw.role === "host") throw new Error("env");
    expect(checkAgainstSlice(gw.config, slice, "h")).toEqual(['ai-dualstack:gpuVm.address: "10.20.0.1/24" is the zone gateway']);
    // DNS leaves the zone only through its gateway: another server is refused before anything is created.
    const dns = loadConfig(edit(committedConfig("private"), "gpuVm", ["nameservers"], ["10.20.0.1", "1.1.1.1"]));
    if (dns.role === "host") throw new Error("env");
    expect(checkAgainstSlice(dns.config, slice, "h")).toEqual([
      'ai-dualstack:gpuVm.nameservers[1]: expected the private zone\'s gateway 10.20.0.1 (the only DNS server its firewall lets the guests reach), got "1.1.1.1"',
    ]);
    expect(checkAgainstSlice(env.config, undefined, "org/p/host")[0]).toContain("run `pulumi up` on the host stack first");
    expect(checkAgainstSlice(env.config, { ...slice, env: "public" }, "h")).toEqual([
      'ai-dualstack:role: the host slice is for "public", this stack is "private"',
    ]);
    // A host stack deployed before the package cache existed: the environment says what to do, before creating anything.
    const { packages: _packages, ...older } = slice;
    expect(checkAgainstSlice(env.config, older as typeof slice, "org/p/host")).toEqual([
      'ai-dualstack:hostStack: the host stack "org/p/host" offers no package cache yet (platform.containers.packages); run `pulumi up` on the host stack first',
    ]);
  });

  it("holds the environment's guests to the host memory budget, on the node with its GPU", () => {
    // 40 GiB VM + 8 GiB PostgreSQL + 2 GiB Redis = 50 GiB of 52: 3 GiB more for the VM is refused, with the numbers.
    const bigger = loadConfig(edit(committedConfig("private"), "gpuVm", ["memoryGiB"], 43));
    if (bigger.role === "host") throw new Error("env");
    expect(checkAgainstSlice(bigger.config, slice, "h")).toEqual([
      "ai-dualstack:gpuVm.memoryGiB: the private environment's guests take gpu-vm 43 GiB + postgres 8 GiB + redis 2 GiB = 53 GiB of the 52 GiB budget the host stack gives it (environments.private.memoryGiB); lower gpuVm.memoryGiB or a container's memoryMiB, or raise the budget in the host stack",
    ]);
    const exact = loadConfig(edit(committedConfig("private"), "gpuVm", ["memoryGiB"], 42));
    if (exact.role === "host") throw new Error("env");
    expect(checkAgainstSlice(exact.config, slice, "h")).toEqual([]);
    // A container's limit counts as much as the VM's memory.
    const redis = loadConfig(edit(committedConfig("private"), "containers", ["redis", "memoryMiB"], 5120));
    if (redis.role === "host") throw new Error("env");
    expect(checkAgainstSlice(redis.config, slice, "h")[0]).toContain("redis 5 GiB = 53 GiB of the 52 GiB budget");
    // A second node without the GPU: the environment's guests belong where its card is.
    const twoNodes = { ...slice, nodes: [...slice.nodes, { name: "pve2", address: "192.168.10.3" }] };
    const moved = loadConfig(edit(committedConfig("private"), "node", [], "pve2"));
    if (moved.role === "host") throw new Error("env");
    expect(checkAgainstSlice(moved.config, twoNodes, "h")).toEqual([
      'ai-dualstack:node: expected "pve1", the node that holds the private environment\'s GPU, got "pve2"',
    ]);
    // A host stack deployed before budgets existed.
    const { memory: _memory, ...older } = slice;
    expect(checkAgainstSlice(bigger.config, older as typeof slice, "org/p/host")).toEqual([
      'ai-dualstack:hostStack: the host stack "org/p/host" gives this environment no memory budget yet; run `pulumi up` on the host stack first',
    ]);
  });
});

describe("the environment's own token", () => {
  it("accepts only this environment's identity, never showing the secret", () => {
    expect(checkToken("ai-private@pve!deploy=1234-abcd", slice)).toEqual([]);
    const swapped = checkToken("ai-public@pve!deploy=SECRET-PART", slice);
    expect(swapped).toEqual([
      "ai-dualstack:proxmoxApiToken: expected the private environment's token (ai-private@pve!deploy=…), got a token of ai-public@pve!deploy",
    ]);
    expect(swapped.join()).not.toContain("SECRET-PART");
    expect(checkToken("root@pam!admin=SECRET", slice)[0]).toContain("got a token of root@pam!admin");
    expect(checkToken("hunter2", slice)[0]).toContain("got something that is not an API token");
    expect(checkToken("ai-private@pve!deploy=", slice)).toHaveLength(1);
  });
});
