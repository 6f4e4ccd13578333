// The box's memory plan: what the host keeps, the platform's containers and the environments' budgets against the
// node's RAM, and an environment's guests against its budget. Pure arithmetic and the config errors built from it.
import { describe, expect, it } from "vitest";
import { arcMaxGiB, boxMemory, boxMemoryProblems, environmentMemory, type BoxMemoryInput } from "../../lib/capacity/host-memory";
import { ConfigError, loadConfig } from "../../lib/config/load";
import { committedConfig, edit } from "../helpers/config";

const GiB = 1024 ** 3;
const box = (over: Partial<BoxMemoryInput["nodes"][0]["memory"]> = {}, budgets = { private: 52, public: 32 }): BoxMemoryInput => ({
  nodes: [{ name: "pve1", memory: { totalGiB: 128, systemGiB: 4, zfsArcMaxGiB: 8, ...over }, gpus: [{ environment: "private" }, { environment: "public" }] }],
  platform: { node: "pve1", containers: { security: { memoryMiB: 2048 }, cicd: { memoryMiB: 6144 }, packages: { memoryMiB: 1024 } } },
  environments: { private: { memoryGiB: budgets.private }, public: { memoryGiB: budgets.public } },
});

function hostProblems(raw: ReturnType<typeof committedConfig>): string[] {
  try {
    loadConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe("the ARC maximum", () => {
  it("defaults to PVE 8.1's installer rule: 10% of RAM in whole GiB, at most 16 GiB", () => {
    const at = (totalGiB: number) => arcMaxGiB({ name: "n", memory: { totalGiB, systemGiB: 4 } });
    expect([at(16), at(32), at(128), at(160), at(512)]).toEqual([1, 3, 12, 16, 16]);
    expect(arcMaxGiB({ name: "n", memory: { totalGiB: 128, systemGiB: 4, zfsArcMaxGiB: 8 } })).toBe(8);
  });

  it("is refused at or below zfs_arc_min (1/32 of RAM), which OpenZFS would silently keep instead", () => {
    expect(boxMemoryProblems(box({ totalGiB: 256, zfsArcMaxGiB: 8 }))).toEqual([
      {
        path: ["nodes", 0, "memory", "zfsArcMaxGiB"],
        message: "expected more than 8 GiB (zfs_arc_min, 1/32 of the node's 256 GiB): OpenZFS ignores a smaller zfs_arc_max, got 8",
      },
    ]);
    expect(boxMemoryProblems(box({ totalGiB: 256, zfsArcMaxGiB: 9 }))).toEqual([]);
  });
});

describe("a node's RAM", () => {
  it("adds the host's share, the platform's containers and the budgets of the environments whose GPU it holds", () => {
    const [n] = boxMemory(box());
    expect(n.lines.map((l) => [l.what, l.bytes / GiB])).toEqual([
      ["system", 4],
      ["zfs-arc", 8],
      ["platform security", 2],
      ["platform cicd", 6],
      ["platform packages", 1],
      ["environment private", 52],
      ["environment public", 32],
    ]);
    expect([n.usedBytes / GiB, n.totalBytes / GiB, n.fits]).toEqual([105, 128, true]);
    // On a second node the public environment's budget moves with its GPU; the platform stays where it is.
    const two = box();
    two.nodes = [
      { ...two.nodes[0], gpus: [{ environment: "private" }] },
      { name: "pve2", memory: { totalGiB: 64, systemGiB: 4 }, gpus: [{ environment: "public" }] },
    ];
    expect(boxMemory(two).map((m) => [m.node, m.usedBytes / GiB])).toEqual([
      ["pve1", 73],
      ["pve2", 4 + 6 + 32],
    ]);
  });

  it("over-committed is a config error on the node's RAM that names every number", () => {
    expect(boxMemoryProblems(box({}, { private: 76, public: 44 }))).toEqual([
      {
        path: ["nodes", 0, "memory", "totalGiB"],
        message:
          "node pve1 is over-committed by 13 GiB: 4 GiB system + 8 GiB ZFS ARC + 76 GiB private + 44 GiB public + 9 GiB platform (security 2 GiB, cicd 6 GiB, packages 1 GiB) = 141 GiB of 128 GiB; lower an environment's memoryGiB, a platform container's memoryMiB or the ARC maximum",
      },
    ]);
    expect(boxMemoryProblems(box({ totalGiB: 12, systemGiB: 4, zfsArcMaxGiB: 8 }))[0]).toEqual({
      path: ["nodes", 0, "memory"],
      message: "the host's own 4 GiB and the ZFS ARC's 8 GiB leave nothing of the node's 12 GiB for guests",
    });
  });
});

describe("an environment's guests", () => {
  it("take the GPU VM's memory in full plus every container's limit", () => {
    const m = environmentMemory({ gpuVm: { memoryGiB: 40 }, containers: { postgres: { memoryMiB: 8192 }, redis: { memoryMiB: 2048 } } }, 50);
    expect([m.usedBytes / GiB, m.budgetBytes / GiB, m.fits]).toEqual([50, 50, true]);
    expect(environmentMemory({ gpuVm: { memoryGiB: 40 }, containers: { redis: { memoryMiB: 10_241 } } }, 50).fits).toBe(false);
  });
});

describe("the host config", () => {
  it("ships a box that fits with room to spare", () => {
    const loaded = loadConfig(committedConfig("host"));
    if (loaded.role !== "host") throw new Error("host");
    const [n] = boxMemory(loaded.config);
    expect(n.fits).toBe(true);
    expect((n.totalBytes - n.usedBytes) / GiB).toBeGreaterThanOrEqual(8);
  });

  it("refuses the pre-budget sizes (64 + 32 GiB VMs and their containers) on the reference box's 128 GB", () => {
    const raw = edit(edit(committedConfig("host"), "environments", ["private", "memoryGiB"], 76), "environments", ["public", "memoryGiB"], 44);
    expect(hostProblems(raw)).toEqual([
      "ai-dualstack:nodes[0].memory.totalGiB: node pve1 is over-committed by 23 GiB: 4 GiB system + 8 GiB ZFS ARC + 76 GiB private + 44 GiB public + 19 GiB platform (security 2 GiB, cicd 6 GiB, monitoring 6 GiB, backup 4 GiB, packages 1 GiB) = 151 GiB of 128 GiB; lower an environment's memoryGiB, a platform container's memoryMiB or the ARC maximum",
    ]);
    expect(hostProblems(edit(committedConfig("host"), "nodes", [0, "memory", "totalGiB"], "lots"))).toEqual([
      'ai-dualstack:nodes[0].memory.totalGiB: expected a whole number from 4 to 16384 (GiB of RAM installed), got "lots"',
    ]);
  });
});
