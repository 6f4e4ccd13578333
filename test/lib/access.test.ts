import { describe, expect, it } from "vitest";
import { FORBIDDEN_PRIVILEGES, auditAccessPlan, planEnvironmentAccess } from "../../lib/access";

const input = {
  env: "public" as const,
  pool: "ai-public",
  bridge: "vmbr30",
  gpuMappings: ["rtx3060"],
  datastores: ["tank-public", "files-public"],
  nodes: ["pve1"],
};

describe("environment access plan", () => {
  const plan = planEnvironmentAccess(input);

  it("names a privilege-separated token of a per-environment user", () => {
    expect(plan.userId).toBe("ai-public@pve");
    expect(plan.tokenId).toBe("ai-public@pve!deploy");
  });

  it("reaches only the environment's pool, datastores, bridge, GPU mapping and node status", () => {
    expect(plan.acls.map((a) => `${a.path} ${a.roleId}`).sort()).toEqual([
      "/mapping/pci/rtx3060 PVEMappingUser",
      "/nodes/pve1 PVEAuditor",
      "/pool/ai-public AiDualstackPublicGuests",
      "/sdn/zones/localnetwork/vmbr30 PVESDNUser",
      "/storage/files-public AiDualstackPublicStorage",
      "/storage/tank-public AiDualstackPublicStorage",
    ]);
    expect(plan.acls.some((a) => a.path === "/" || a.path.includes("private"))).toBe(false);
    expect(auditAccessPlan(plan, input)).toEqual([]);
  });

  it("carries no privilege that reaches beyond the environment", () => {
    const all = Object.values(plan.roles).flat();
    for (const p of FORBIDDEN_PRIVILEGES) expect(all).not.toContain(p);
    expect(all).toContain("VM.Allocate");
    expect(all).toContain("Datastore.AllocateSpace");
  });

  it("the audit catches an ACL on another environment's pool and a forbidden privilege", () => {
    const bad = { ...plan, acls: [...plan.acls, { path: "/pool/ai-private", roleId: "PVEVMAdmin", propagate: true }], roles: { X: ["Sys.Modify"] } };
    expect(auditAccessPlan(bad, input)).toEqual(["role X carries Sys.Modify", "ACL on /pool/ai-private reaches beyond the public environment"]);
  });
});
