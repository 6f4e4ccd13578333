// Every rule of the pack: the shipped stacks are its compliant case; a one-resource mutation of them is its
// violating case, and exactly the expected rules fire.
import { beforeAll, describe, expect, it } from "vitest";
import { unknownCheckingProxy } from "@pulumi/policy";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { unknownStringValue } = require("@pulumi/policy/proxy");
import { RULES, buildPolicies } from "../../policies/all";
import { isStackPolicy } from "../../policies/support/policy";
import { loadTopology } from "../../policies/support/topology";
import type { PlanResult, PlannedResource } from "../../ops/engine";
import { runPolicies, type Violation } from "../../ops/policy-runner";
import { shippedPlans } from "../helpers/plans";

let host: PlanResult;
let priv: PlanResult;
let pub: PlanResult;

beforeAll(async () => {
  ({ host, priv, pub } = await shippedPlans());
});

/** A deep copy of a plan with `change` applied to the resource named `name`. */
function mutate(plan: PlanResult, name: string, change: (r: PlannedResource) => void): PlanResult {
  const copy: PlanResult = JSON.parse(JSON.stringify(plan));
  const r = copy.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name} in ${plan.stack}: ${copy.resources.map((x) => x.name).join(", ")}`);
  change(r);
  return copy;
}

function withResource(plan: PlanResult, r: Partial<PlannedResource> & { type: string; name: string }): PlanResult {
  const copy: PlanResult = JSON.parse(JSON.stringify(plan));
  copy.resources.push({
    urn: `urn:pulumi:${plan.stack}::ai-dualstack::${r.type}::${r.name}`,
    custom: true,
    inputs: {},
    options: { protect: false, retainOnDelete: false, deleteBeforeReplace: false, additionalSecretOutputs: [], dependsOn: [] },
    ...r,
  });
  return copy;
}

async function mandatory(plan: PlanResult): Promise<string[]> {
  const v = await runPolicies(plan);
  return [...new Set(v.filter((x) => x.enforcement === "mandatory").map((x) => x.policy))].sort();
}

async function violationsOf(plan: PlanResult, policy: string): Promise<Violation[]> {
  return (await runPolicies(plan)).filter((v) => v.policy === policy);
}

const vm = (p: () => PlanResult) => p().resources.find((r) => r.name.endsWith("-gpu-vm"))!.name;

describe("the pack", () => {
  it("documents every rule: description, reason, source, level; names are unique", () => {
    const policies = buildPolicies();
    expect(policies).toHaveLength(RULES.length);
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    for (const p of policies) {
      expect(p.description.length, p.name).toBeGreaterThan(20);
      expect(p.reason.length, p.name).toBeGreaterThan(20);
      expect(p.source.length, p.name).toBeGreaterThan(5);
      expect(["mandatory", "advisory"]).toContain(p.enforcementLevel);
    }
    expect(
      policies
        .filter(isStackPolicy)
        .map((p) => p.name)
        .sort(),
    ).toEqual([
      "backup-coverage",
      "cluster-firewall-enabled",
      "data-services-own-environment",
      "gpu-single-environment",
      "guest-firewall-baseline",
      "models-fit-together",
      "no-private-endpoint-in-public",
      "public-egress-restricted",
      "vault-paths-own-environment",
    ]);
  });

  it.each(["host", "private", "public"])("the shipped %s stack has no mandatory violation", async (stack) => {
    const plan = { host: () => host, private: () => priv, public: () => pub }[stack as "host"]();
    expect(await mandatory(plan)).toEqual([]);
  });

  it("the topology file parses and names every environment", () => {
    const t = loadTopology();
    expect(Object.keys(t.environments).sort()).toEqual(["platform", "private", "public"]);
    expect(t.environments.private.gpuMappings).toEqual(["rtx5090"]);
  });
});

describe("isolation rules", () => {
  it("guest-environment-tag: no env tag, or two", async () => {
    // An untagged PostgreSQL guest is no longer the environment's own, so data-services-own-environment fires too.
    expect(await mandatory(mutate(priv, "private-postgres-ct", (r) => (r.inputs.tags = ["managed-by-ai-dualstack", "stack-private", "postgres"])))).toEqual([
      "data-services-own-environment",
      "guest-environment-tag",
    ]);
    expect(await mandatory(mutate(priv, "private-gpu-vm", (r) => (r.inputs.tags = [...(r.inputs.tags as string[]), "env-public"])))).toEqual([
      "guest-environment-tag",
    ]);
    const v = await violationsOf(
      mutate(priv, "private-postgres-ct", (r) => (r.inputs.tags = ["env-platform", "stack-private"])),
      "guest-environment-tag",
    );
    expect(v[0].message).toBe("private-postgres-ct is tagged env-platform but belongs to stack private, whose guests are env-private");
  });

  it("unknown-guest-type: a guest of a type the pack does not check", async () => {
    const plan = withResource(priv, { type: "proxmoxve:index/vm:Vm", name: "sneaky", inputs: { nodeName: "pve1" } });
    expect(await mandatory(plan)).toEqual(["unknown-guest-type"]);
    expect(await mandatory(withResource(priv, { type: "proxmoxve:VM/virtualMachine:VirtualMachine", name: "old" }))).toEqual(["unknown-guest-type"]);
  });

  it("nic-bridge-explicit / nic-in-own-zone / no-management-network", async () => {
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => delete (r.inputs.networkDevices as any)[0].bridge,
        ),
      ),
    ).toEqual(["nic-bridge-explicit"]);
    const other = await violationsOf(
      mutate(
        priv,
        vm(() => priv),
        (r) => ((r.inputs.networkDevices as any)[0].bridge = "vmbr30"),
      ),
      "nic-in-own-zone",
    );
    expect(other[0].message).toBe("private-gpu-vm (env-private) NIC 0 is on vmbr30, the public zone's bridge; private guests may use only vmbr20");
    expect(await mandatory(mutate(pub, "public-redis-ct", (r) => ((r.inputs.networkInterfaces as any)[0].bridge = "vmbr0")))).toEqual([
      "nic-in-own-zone",
      "no-management-network",
    ]);
  });

  it("pci-through-mapping / gpu-of-own-environment / gpu-single-environment", async () => {
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => (r.inputs.hostpcis = [{ device: "hostpci0", id: "0000:02:00", pcie: true }]),
        ),
      ),
    ).toEqual(["pci-through-mapping"]);
    const swapped = await violationsOf(
      mutate(
        pub,
        vm(() => pub),
        (r) => ((r.inputs.hostpcis as any)[0].mapping = "rtx5090"),
      ),
      "gpu-of-own-environment",
    );
    expect(swapped[0].message).toBe("public-gpu-vm (env-public) uses the GPU mapping rtx5090, which belongs to the private environment");
    const shared = withResource(priv, {
      type: "proxmoxve:index/vmLegacy:VmLegacy",
      name: "intruder",
      inputs: { tags: ["env-public"], hostpcis: [{ device: "hostpci0", mapping: "rtx5090" }], networkDevices: [] },
    });
    expect((await violationsOf(shared, "gpu-single-environment"))[0].message).toBe("GPU mapping rtx5090 is used by guests of private and public");
  });

  it("storage-of-own-environment / pool-of-own-environment", async () => {
    expect(await mandatory(mutate(priv, "private-redis-ct", (r) => ((r.inputs.disk as any).datastoreId = "tank-public")))).toEqual([
      "storage-of-own-environment",
    ]);
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => ((r.inputs.disks as any)[1].datastoreId = "local-zfs"),
        ),
      ),
    ).toEqual(["storage-of-own-environment"]);
    // Outside its own pools it is outside the pools its environment's backups cover, too.
    expect(await mandatory(mutate(pub, "public-postgres-ct", (r) => (r.inputs.poolId = "ai-private")))).toEqual(["backup-coverage", "pool-of-own-environment"]);
  });

  it("bind-mounts-confined: only from the environment's own tree, never system paths or the Docker socket", async () => {
    const bind = (volume: string) =>
      mutate(priv, "private-postgres-ct", (r) => (r.inputs.mountPoints = [...(r.inputs.mountPoints as any[]), { volume, path: "/srv/x", backup: true }]));
    expect(await mandatory(bind("/mnt/bindmounts/private/docs"))).toEqual([]);
    expect(await mandatory(bind("/mnt/bindmounts/public/docs"))).toEqual(["bind-mounts-confined"]);
    expect(await mandatory(bind("/var/run/docker.sock"))).toEqual(["bind-mounts-confined"]);
    expect((await violationsOf(bind("/etc"), "bind-mounts-confined"))[0].message).toContain("host system paths and the Docker socket are never allowed");
  });

  it("no-private-endpoint-in-public: a public service pointed at a private address", async () => {
    const plan = mutate(pub, "public-services-chatbot", (r) => (r.inputs.envs = ["OLLAMA_BASE_URL=http://10.20.0.10:11434"]));
    expect(await mandatory(plan)).toEqual(["no-private-endpoint-in-public"]);
    // The private stack may mention its own addresses freely.
    expect(await mandatory(priv)).toEqual([]);
  });
});

describe("Vault", () => {
  it("vault-paths-own-environment: secrets under the environment's own mount; policies and AppRoles per environment", async () => {
    const v = await violationsOf(
      mutate(pub, "public-tenants-acme-credentials", (r) => (r.inputs.mount = "kv-private")),
      "vault-paths-own-environment",
    );
    expect(v.map((x) => x.message)).toEqual([
      "public-tenants-acme-credentials writes kv-private/tenants/acme; the public environment may write only under kv-public/",
    ]);
    const glob = await violationsOf(
      mutate(host, "platform-vault-public-policy", (r) => ((r.inputs.object as any).policy += 'path "kv-*/data/*" { capabilities = ["read"] }\n')),
      "vault-paths-own-environment",
    );
    expect(glob.map((x) => x.message)).toEqual(["Vault policy ai-public reaches kv-*; it may reach only kv-public/ (no globs across mounts)"]);
    const role = await violationsOf(
      mutate(host, "platform-vault-private-approle", (r) => ((r.inputs.object as any).settings.token_policies = ["ai-private", "ai-public"])),
      "vault-paths-own-environment",
    );
    expect(role.map((x) => x.message)).toEqual(['Vault AppRole ai-private carries the policies ["ai-private","ai-public"]; expected only ["ai-private"]']);
  });
});

describe("data services", () => {
  it("data-services-own-environment: own PostgreSQL, Redis and vector DB; nothing of the other zone", async () => {
    const withoutRedis: PlanResult = JSON.parse(JSON.stringify(priv));
    withoutRedis.resources = withoutRedis.resources.filter((r) => !r.name.startsWith("private-redis"));
    expect((await violationsOf(withoutRedis, "data-services-own-environment")).map((v) => v.message)).toEqual([
      "the private environment runs no redis container of its own",
    ]);
    const noVectorDb: PlanResult = JSON.parse(JSON.stringify(pub));
    noVectorDb.resources = noVectorDb.resources.filter((r) => !(r.inputs.name as string | undefined)?.startsWith?.("qdrant/"));
    expect((await violationsOf(noVectorDb, "data-services-own-environment")).map((v) => v.message)).toEqual([
      "the public environment runs no vector database of its own",
    ]);
    const reachesOut = mutate(priv, "private-services-open-webui", (r) => (r.inputs.envs = ["REDIS_URL=redis://10.30.0.22:6379"]));
    expect(await mandatory(reachesOut)).toEqual(["data-services-own-environment"]);
    expect(await violationsOf(host, "data-services-own-environment")).toEqual([]);
  });
});

describe("network and access rules", () => {
  it("nic-firewall-on", async () => {
    expect(await mandatory(mutate(priv, "private-postgres-ct", (r) => ((r.inputs.networkInterfaces as any)[0].firewall = false)))).toEqual(["nic-firewall-on"]);
  });

  it("guest-firewall-baseline: missing options, or ACCEPT inbound", async () => {
    const withoutOptions: PlanResult = JSON.parse(JSON.stringify(priv));
    withoutOptions.resources = withoutOptions.resources.filter((r) => r.name !== "private-redis-firewall-options");
    expect(await mandatory(withoutOptions)).toEqual(["guest-firewall-baseline"]);
    const v = await violationsOf(
      mutate(priv, "private-redis-firewall-options", (r) => {
        r.inputs.inputPolicy = "ACCEPT";
        r.inputs.macfilter = false;
      }),
      "guest-firewall-baseline",
    );
    expect(v[0].message).toBe("private-redis-ct's firewall lacks inputPolicy DROP (is ACCEPT), macfilter");
    // Outbound too: a private guest that may send anywhere.
    const open = await violationsOf(
      mutate(priv, "private-gpu-firewall-options", (r) => (r.inputs.outputPolicy = "ACCEPT")),
      "guest-firewall-baseline",
    );
    expect(open.map((x) => x.message)).toEqual(["private-gpu-vm's firewall lacks outputPolicy DROP (is ACCEPT)"]);
  });

  it("public-egress-restricted", async () => {
    expect(await mandatory(mutate(pub, "public-gpu-firewall-options", (r) => (r.inputs.outputPolicy = "ACCEPT")))).toEqual(["public-egress-restricted"]);
    // Private guests are guest-firewall-baseline's.
    expect(await violationsOf(priv, "public-egress-restricted")).toEqual([]);
  });

  it("admin-ports-management-only: SSH from anywhere, or from a zone without the shadowing DROPs", async () => {
    const open = mutate(pub, "public-gpu-firewall-rules", (r) =>
      (r.inputs.rules as any[]).push({ type: "in", action: "ACCEPT", proto: "tcp", dport: "22", source: "0.0.0.0/0", comment: "oops" }),
    );
    expect(await mandatory(open)).toEqual(["admin-ports-management-only"]);
    const unshadowed = mutate(
      host,
      "platform-host-firewall-sg-private",
      (r) => (r.inputs.rules = (r.inputs.rules as any[]).filter((x) => x.action !== "DROP")),
    );
    const v = await violationsOf(unshadowed, "admin-ports-management-only");
    expect(v[0].message).toBe(
      "platform-host-firewall-sg-private opens 22, 8006, 3128 to 10.20.0.0/24 (traffic from the private zone); admin ports only from +management",
    );
    const range = mutate(host, "platform-host-firewall-rules", (r) =>
      (r.inputs.rules as any[]).push({ type: "in", action: "ACCEPT", proto: "tcp", dport: "8000:8100", source: "10.30.0.0/24", comment: "range" }),
    );
    expect(await mandatory(range)).toEqual(["admin-ports-management-only"]);
    const udp = mutate(host, "platform-host-firewall-rules", (r) =>
      (r.inputs.rules as any[]).push({ type: "in", action: "ACCEPT", proto: "udp", dport: "22", source: "10.30.0.0/24", comment: "not ssh" }),
    );
    expect(await mandatory(udp)).toEqual([]);
  });

  it("cluster-firewall-enabled", async () => {
    expect(await mandatory(mutate(host, "platform-host-firewall-options", (r) => (r.inputs.inputPolicy = "ACCEPT")))).toEqual(["cluster-firewall-enabled"]);
    const without: PlanResult = JSON.parse(JSON.stringify(host));
    without.resources = without.resources.filter((r) => r.type !== "proxmoxve:cluster/firewallLegacy:FirewallLegacy");
    expect((await violationsOf(without, "cluster-firewall-enabled"))[0].message).toBe("the host stack manages no cluster firewall (cluster.FirewallLegacy)");
  });

  it("provider-tls", async () => {
    expect(await mandatory(mutate(priv, "proxmox", (r) => (r.inputs.insecure = "true")))).toEqual(["provider-tls"]);
    expect(await mandatory(mutate(host, "proxmox", (r) => delete r.inputs.minTls))).toEqual(["provider-tls"]);
  });
});

describe("guest rules", () => {
  it("lxc-unprivileged: privileged, or a feature outside the allowlist", async () => {
    expect(await mandatory(mutate(pub, "public-postgres-ct", (r) => (r.inputs.unprivileged = false)))).toEqual(["lxc-unprivileged"]);
    expect(await mandatory(mutate(pub, "public-postgres-ct", (r) => ((r.inputs.features as any).fuse = true)))).toEqual(["lxc-unprivileged"]);
    expect(await mandatory(mutate(pub, "public-postgres-ct", (r) => ((r.inputs.features as any).keyctl = true)))).toEqual([]);
  });

  it("cloud-init-keys-only: password in user-data or account, password SSH on", async () => {
    const snippet = (f: (d: string) => string) =>
      mutate(priv, "private-gpu-user-data", (r) => ((r.inputs.sourceRaw as any).data = f((r.inputs.sourceRaw as any).data)));
    expect(await mandatory(snippet((d) => d.replace("ssh_pwauth: false", "ssh_pwauth: true")))).toEqual(["cloud-init-keys-only"]);
    expect(await mandatory(snippet((d) => d.replace("    lock_passwd: true", "    lock_passwd: false\n    plain_text_passwd: hunter2")))).toEqual([
      "cloud-init-keys-only",
    ]);
    expect(await mandatory(mutate(pub, "public-redis-ct", (r) => ((r.inputs.initialization as any).userAccount = { keys: [], password: "x" })))).toEqual([
      "cloud-init-keys-only",
      "secrets-are-secret",
    ]);
  });

  it("guest-agent-timeout", async () => {
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => delete (r.inputs.agent as any).timeout,
        ),
      ),
    ).toEqual(["guest-agent-timeout"]);
  });
});

describe("data and secrets rules", () => {
  it("secrets-are-secret: a plain secret-looking property or environment variable", async () => {
    const undeclared = (envs: string[]) => (r: PlannedResource) => {
      r.inputs.envs = envs;
      r.options.additionalSecretOutputs = [];
    };
    expect(await mandatory(mutate(pub, "public-services-qdrant", undeclared(["QDRANT__SERVICE__API_KEY=plain-key"])))).toEqual(["secrets-are-secret"]);
    // A real engine hands validators secrets unwrapped: only the declaration counts.
    expect(await mandatory(mutate(pub, "public-services-qdrant", undeclared(["QDRANT__SERVICE__API_KEY=[secret]"])))).toEqual(["secrets-are-secret"]);
    expect(
      await mandatory(
        mutate(pub, "public-services-qdrant", (r) => {
          r.inputs.envs = ["QDRANT__SERVICE__API_KEY=plain-key"];
          r.options.additionalSecretOutputs = ["envs"];
        }),
      ),
    ).toEqual([]);
    // The dynamic providers' default provider carries the stack config, secrets included.
    expect(
      await mandatory(withResource(pub, { type: "pulumi:providers:pulumi-nodejs", name: "default", inputs: { "ai-dualstack:proxmoxApiToken": "tok" } })),
    ).toEqual([]);
    expect(await mandatory(withResource(pub, { type: "pulumi:providers:pulumi-nodejs", name: "default", inputs: { apiToken: "tok" } }))).toEqual([
      "secrets-are-secret",
    ]);
    expect(
      await mandatory(mutate(pub, "public-redis-ct", (r) => ((r.inputs.initialization as any).userAccount = { keys: ["k"], password: "hunter2" }))),
    ).toEqual(["cloud-init-keys-only", "secrets-are-secret"]);
    // Names that merely mention tokens are not secrets.
    expect(await violationsOf(host, "secrets-are-secret")).toEqual([]);
  });

  it("secrets-are-secret walks past values a real preview does not know yet (the engine's unknown-checking proxy)", () => {
    const policy = buildPolicies().find((p) => p.name === "secrets-are-secret")!;
    if (isStackPolicy(policy)) throw new Error("expected a resource policy");
    const props = unknownCheckingProxy({
      environment: { REBOOT_STATUS: unknownStringValue, password: "hunter2" },
      envs: ["API_TOKEN=plain", unknownStringValue],
    });
    const reports: string[] = [];
    const validate = policy.validateResource as (args: unknown, report: (m: string) => void) => void;
    validate({ type: "docker:index/container:Container", name: "c", props, opts: {} }, (m) => reports.push(m));
    expect(reports).toEqual([
      'c: environment.password is not declared secret; make it a Pulumi secret and list "environment" in additionalSecretOutputs',
      'c: envs API_TOKEN is not declared secret; make it a Pulumi secret and list "envs" in additionalSecretOutputs',
    ]);
  });

  it("stateful-guests-protected", async () => {
    expect(await mandatory(mutate(priv, "private-redis-ct", (r) => (r.options.protect = false)))).toEqual(["stateful-guests-protected"]);
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => (r.inputs.purgeOnDestroy = true),
        ),
      ),
    ).toEqual(["stateful-guests-protected"]);
    expect(
      await mandatory(
        mutate(
          priv,
          vm(() => priv),
          (r) => delete r.inputs.deleteUnreferencedDisksOnDestroy,
        ),
      ),
    ).toEqual(["stateful-guests-protected"]);
  });

  it("backup-coverage: every pool has a job with retention to an encrypted PBS storage; guests sit in covered pools", async () => {
    expect(await violationsOf(host, "backup-coverage")).toEqual([]);
    const without = (name: string): PlanResult => ({ ...host, resources: host.resources.filter((r) => r.name !== name) });
    expect((await violationsOf(without("platform-backups-ai-dualstack-public"), "backup-coverage")).map((v) => v.message)).toEqual([
      "pool ai-public (public) is covered by no backup job",
    ]);
    const noRetention = mutate(host, "platform-backups-ai-dualstack-platform", (r) => (r.inputs.pruneBackups = {}));
    expect((await violationsOf(noRetention, "backup-coverage")).map((v) => v.message).sort()).toEqual(
      [
        "pool platform (platform) is backed up without retention (pruneBackups)",
        ...["security", "cicd", "monitoring", "backup", "packages"].map(
          (k, i) => `platform-${k}-ct (${110 + i}) is backed up without retention (pruneBackups)`,
        ),
      ].sort(),
    );
    const plain = mutate(host, "platform-backups-pbs", (r) => (delete r.inputs.generateEncryptionKey, delete r.inputs.encryptionKey));
    expect((await violationsOf(plain, "backup-coverage")).map((v) => v.message)).toEqual(
      Array(3).fill("PBS storage pbs has no client-side encryption (encryptionKey or generateEncryptionKey)"),
    );
    const elsewhere = mutate(host, "platform-backups-ai-dualstack-private", (r) => (r.inputs.storage = "local"));
    expect((await violationsOf(elsewhere, "backup-coverage")).map((v) => v.message)).toEqual([
      'backup job ai-dualstack-private writes to storage "local", which is no Proxmox Backup Server storage of this stack',
    ]);
    // An environment's guest outside its pools is in no pool the platform backs up.
    expect(await violationsOf(priv, "backup-coverage")).toEqual([]);
    const stray = mutate(priv, "private-redis-ct", (r) => (r.inputs.poolId = "scratch"));
    expect((await violationsOf(stray, "backup-coverage")).map((v) => v.message)).toEqual([
      'private-redis-ct is in pool "scratch", which no backup job covers (the platform backs up platform, ai-private, ai-public)',
    ]);
  });

  it("images-pinned: latest, no tag, or an unknown registry", async () => {
    const image = (name: string) => mutate(pub, "public-services-img-qdrant-qdrant-v1-15-4", (r) => (r.inputs.name = name));
    expect(await mandatory(image("qdrant/qdrant:latest"))).toEqual(["images-pinned"]);
    expect(await mandatory(image("qdrant/qdrant"))).toEqual(["images-pinned"]);
    expect(await mandatory(image("registry.example.org/qdrant/qdrant:v1.15.4"))).toEqual(["images-pinned"]);
    expect(await mandatory(image("qdrant/qdrant@sha256:" + "a".repeat(64)))).toEqual([]);
    expect(await mandatory(image("localhost:5000/qdrant:v1"))).toEqual(["images-pinned"]);
  });
});

describe("capacity rules", () => {
  const model = (p: () => PlanResult) => p().resources.find((r) => r.type === "pulumi-nodejs:dynamic/ollama:Model")!.name;

  it("model-fits-gpu: recomputed from the facts, not from the program's verdict", async () => {
    const tooBig = mutate(
      pub,
      model(() => pub),
      (r) => {
        (r.inputs.capacity as any).context = 65536;
        (r.inputs.capacity as any).fits = true;
      },
    );
    const v = await violationsOf(tooBig, "model-fits-gpu");
    expect(v[0].message).toMatch(/^mistral:7b needs 3[0-9]\.\d\d GiB on the rtx-3060-12gb \(12\.00 GiB\) at 65536 context × 4 slot\(s\) with f16 KV$/);
    expect(
      await mandatory(
        mutate(
          pub,
          model(() => pub),
          (r) => delete r.inputs.capacity,
        ),
      ),
    ).toEqual(["model-fits-gpu"]);
  });

  it("models-fit-together: the largest allowed co-resident set", async () => {
    const plan: PlanResult = JSON.parse(JSON.stringify(priv));
    for (const r of plan.resources.filter((x) => x.type === "pulumi-nodejs:dynamic/ollama:Model")) (r.inputs.capacity as any).kvCacheType = "f16";
    expect(await mandatory(plan)).toEqual(["models-fit-together"]);
    for (const r of plan.resources.filter((x) => x.type === "pulumi-nodejs:dynamic/ollama:Model")) (r.inputs.capacity as any).maxLoaded = 1;
    expect(await mandatory(plan)).toEqual([]);
  });
});

describe("rule knobs", () => {
  it("admin-ports-management-only takes its port list from its config, defaulting to 22, 8006, 3128", async () => {
    const web = mutate(pub, "public-gpu-firewall-rules", (r) =>
      (r.inputs.rules as any[]).push({ type: "in", action: "ACCEPT", proto: "tcp", dport: "9090", source: "0.0.0.0/0", comment: "metrics" }),
    );
    expect((await runPolicies(web)).some((v) => v.policy === "admin-ports-management-only")).toBe(false);
    const v = (await runPolicies(web, buildPolicies(), { "admin-ports-management-only": { ports: ["22", "9090"] } })).filter(
      (x) => x.policy === "admin-ports-management-only",
    );
    expect(v.map((x) => x.message)).toEqual(["public-gpu-firewall-rules opens 9090 to 0.0.0.0/0 (metrics); admin ports only from +management"]);
  });
});

describe("enforcement levels", () => {
  it("a policy config lowers or disables a rule", async () => {
    const plan = mutate(priv, "private-postgres-ct", (r) => ((r.inputs.networkInterfaces as any)[0].firewall = false));
    expect((await runPolicies(plan, buildPolicies(), { "nic-firewall-on": "advisory" })).find((v) => v.policy === "nic-firewall-on")?.enforcement).toBe(
      "advisory",
    );
    expect(
      (await runPolicies(plan, buildPolicies(), { "nic-firewall-on": { enforcementLevel: "disabled" } })).some((v) => v.policy === "nic-firewall-on"),
    ).toBe(false);
  });
});
