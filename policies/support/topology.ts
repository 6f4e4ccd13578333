// The pack's own declaration of what belongs to which environment (policies/topology.json). It is deliberately
// separate from the stacks' config: a swapped bridge or GPU in Pulumi.host.yaml is caught against it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const zoneFacts = z.strictObject({
  bridges: z.array(z.string().min(1)).min(1),
  cidrs: z.array(z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/)).min(1),
  pools: z.array(z.string().min(1)).default([]),
  datastores: z.array(z.string().min(1)).default([]),
  gpuMappings: z.array(z.string().min(1)).default([]),
});

export const topologySchema = z.strictObject({
  /** Stack name → the environment its guests belong to. */
  stacks: z.record(z.string(), z.enum(["platform", "private", "public"])),
  environments: z.strictObject({ platform: zoneFacts, private: zoneFacts, public: zoneFacts }),
  management: z.strictObject({ bridges: z.array(z.string()).min(1), ipset: z.string().min(1), cidrs: z.array(z.string()).min(1) }),
  /** Bind mounts must live under <root>/<environment>/. */
  bindMountRoot: z.string().regex(/^\/[^\s]*[^/]$/),
  allowedLxcFeatures: z.array(z.enum(["nesting", "keyctl", "fuse", "mknod"])),
  /** Registries container images may come from ("docker.io" for unqualified names). */
  registries: z.array(z.string().min(1)).min(1),
});
export type Topology = z.infer<typeof topologySchema>;
export type PolicyEnvironment = keyof Topology["environments"];

export const TOPOLOGY_FILE = join(__dirname, "..", "topology.json");

export function loadTopology(file = TOPOLOGY_FILE): Topology {
  const parsed = topologySchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}
