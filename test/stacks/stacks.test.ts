// All three stacks through the offline engine: resource counts, the graph, isolation between the environments,
// no secret in the plan, and an invalid config that registers nothing.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, OFFLINE_SECRET_PLACEHOLDER } from "../../lib/config/load";
import { evaluateStack, recordRegistrations, settle, type PlanResult } from "../../ops/engine";
import { ROOT, dummySecrets, stackFile } from "../helpers/config";
import { shippedPlans } from "../helpers/plans";
import { T, byType, one } from "../helpers/mocks";

let host: PlanResult;
let priv: PlanResult;
let pub: PlanResult;

beforeAll(async () => {
  ({ host, priv, pub } = await shippedPlans());
});

const count = (plan: PlanResult, type: string) => byType(plan.resources, type).length;
const guests = (plan: PlanResult) => [...byType(plan.resources, T.vm), ...byType(plan.resources, T.ct)];

describe("host stack", () => {
  it("creates the platform: storage, zones, GPU mappings, access, firewall, images, platform LXCs", () => {
    expect(count(host, T.zfspool)).toBe(3); // private, public, platform datasets on tank
    expect(count(host, T.bridge)).toBe(3); // services, private, public
    expect(count(host, T.pci)).toBe(2);
    expect(count(host, T.token)).toBe(3); // the environments' deploy tokens and the read-only monitoring token
    expect(count(host, T.pool)).toBe(4); // the environments', the platform's and the restore drill's
    expect(byType(host.resources, T.pool).find((p) => p.name.endsWith("-drill-pool"))?.inputs.poolId).toBe("ai-drill");
    expect(count(host, T.clusterFirewall)).toBe(1);
    expect(count(host, T.download)).toBe(5); // per environment a cloud image and an LXC template, plus the platform's template
    expect(count(host, T.ct)).toBe(5); // security, cicd, monitoring, backup, packages
    expect(count(host, T.vm)).toBe(0);
    // 92 + the node's ZFS ARC maximum (1), the platform CA (3), Vault (17, + 4 for its snapshots: policy, AppRole,
    // credentials, scripts), backups (5), restic (8: the platform's repository too, + its client on the security LXC),
    // monitoring (18: component, telemetry on the 4 containers, the read-only user, token and ACL, the node's exporters
    // and discovery, Grafana's password, the Grafana and log-gateway certificates (2 × key, request, certificate), the
    // install, Alertmanager's receivers), the package cache (8: its container with its firewall (6), the install, its
    // telemetry), and the kept secrets (11: the platform's KV mount, per restic repository its password and the two
    // halves of its client key, Grafana's password)
    expect(host.resources).toHaveLength(169);
  });

  it("hosts the environments' restic repositories on the backup LXC: an sftp-only daemon on its own port, passwords and keys on stdin", () => {
    const install = one(host.resources, "command:remote:Command", "platform-restic-install").inputs as any;
    expect(install.stdin).toBe("(known after apply)");
    expect(install.create).toContain("Port 2222\n");
    expect(install.create).toContain("Match User restic-public\n  ChrootDirectory /srv/backup/restic/public\n");
    expect(install.create).not.toMatch(/ssh-ed25519 AAAA/);
    const rules = byType(host.resources, T.rules).find((r) => r.name === "platform-backup-firewall-rules")!.inputs as any;
    expect(rules.rules.slice(1).map((r: any) => `${r.source} ${r.dport}`)).toEqual(["10.20.0.0/24 2222", "10.30.0.0/24 2222"]);
  });

  it("backs up every pool to the Proxmox Backup Server: client-side encrypted, certificate pinned, retention and fleecing", async () => {
    const pbs = one(host.resources, "proxmoxve:storage/pbs:Pbs", "platform-backups-pbs");
    expect(pbs.inputs).toMatchObject({
      resourceId: "pbs",
      server: "192.168.10.5",
      datastore: "ai-dualstack",
      namespace: "pve1",
      username: "pve1@pbs!backup",
      contents: ["backup"],
      nodes: ["pve1"],
      password: "[secret]",
    });
    // No pbsEncryptionKey in the config: Proxmox generates the key (as a real deployment would; offline, an absent
    // optional secret stays absent).
    expect((pbs.inputs as any).generateEncryptionKey).toBe(true);
    expect(pbs.inputs).not.toHaveProperty("encryptionKey");
    const keyed = await evaluateStack("host", { secrets: { ...dummySecrets("host"), pbsEncryptionKey: '{"kdf":"none","key":"a2V5"}' } });
    const keyedPbs = keyed.resources.find((r) => r.type === "proxmoxve:storage/pbs:Pbs")!;
    expect((keyedPbs.inputs as any).encryptionKey).toBe("[secret]");
    expect(keyedPbs.inputs).not.toHaveProperty("generateEncryptionKey");
    expect((pbs.inputs as any).fingerprint).toMatch(/^AB:CD/);
    expect(pbs.options).toMatchObject({ protect: true });
    expect(pbs.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["password", "encryptionKey", "generatedEncryptionKey"]));
    const jobs = byType(host.resources, "proxmoxve:backup/job:Job").map((j) => j.inputs as any);
    expect(jobs.map((j) => [j.resourceId, j.pool, j.fleecing.storage])).toEqual([
      ["ai-dualstack-platform", "platform", "tank-platform"],
      ["ai-dualstack-private", "ai-private", "tank-private"],
      ["ai-dualstack-public", "ai-public", "tank-public"],
    ]);
    for (const j of jobs) {
      expect(j).toMatchObject({
        storage: "pbs",
        schedule: "*-*-* 01:30",
        mode: "snapshot",
        compress: "zstd",
        pruneBackups: { "keep-daily": "7", "keep-weekly": "4", "keep-monthly": "6" },
        fleecing: { enabled: true },
        mailnotification: "failure",
      });
    }
  });

  it("installs Vault in the security LXC with a certificate from the platform CA, the key on stdin only", () => {
    const install = one(host.resources, "command:remote:Command", "platform-vault-install").inputs as any;
    expect(install.connection).toBe("[secret]"); // it carries the SSH key
    expect(install.stdin).toBe("(known after apply)"); // the key and certificates, generated at apply
    expect(install.create).toContain(`pem "PRIVATE KEY" 1 > "$part"; put /etc/vault.d/tls/vault.key 0640 root:vault < "$part"`);
    expect(install.create).toContain('address         = "10.10.0.10:8200"');
    expect(install.create).toContain('path    = "/var/lib/vault/raft"');
    expect(install.create).not.toMatch(/-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/]/); // no PEM in the script
    const cert = one(host.resources, "tls:index/locallySignedCert:LocallySignedCert", "platform-ca-platform-vault-tls-cert").inputs as any;
    expect(cert.allowedUses).toEqual(["digital_signature", "key_encipherment", "server_auth"]);
    const csr = one(host.resources, "tls:index/certRequest:CertRequest", "platform-ca-platform-vault-tls-csr").inputs as any;
    expect(csr).toMatchObject({ ipAddresses: ["10.10.0.10"], dnsNames: ["platform-security"] });
  });

  it("configures Vault: two audit devices, per environment a KV v2 mount, a policy of its own paths and an AppRole", () => {
    const objects = byType(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject");
    const described = objects.map((r) => {
      const o = (r.inputs as any).object;
      return `${o.kind}:${o.name ?? o.path}`;
    });
    expect(described).toEqual([
      "audit:file-system",
      "audit:file-data",
      "policy:dualstack-admin",
      "auth:approle",
      "policy:dualstack-snapshot",
      "approle:dualstack-snapshot",
      "kv-mount:kv-private",
      "policy:ai-private",
      "approle:ai-private",
      "kv-mount:kv-public",
      "policy:ai-public",
      "approle:ai-public",
      "kv-mount:kv-platform",
    ]);
    for (const r of objects) expect((r.inputs as any).address).toBe("https://10.10.0.10:8200");
    const policy = (env: string) =>
      (one(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject", `platform-vault-${env}-policy`).inputs as any).object.policy as string;
    expect(policy("private")).toContain('path "kv-private/data/*"');
    expect(policy("private")).toContain('path "kv-private/metadata/*"');
    expect(policy("private")).not.toContain("kv-public");
    expect(policy("public")).not.toContain("kv-private");
    const role = (one(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject", "platform-vault-public-approle").inputs as any).object.settings;
    expect(role).toMatchObject({ token_policies: ["ai-public"], token_type: "batch", secret_id_bound_cidrs: ["192.168.10.0/28"] });
    const mount = one(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject", "platform-vault-public-mount");
    expect(mount.options).toMatchObject({ protect: true, retainOnDelete: true });
    expect(byType(host.resources, "pulumi-nodejs:dynamic/vault:AppRoleCredentials")).toHaveLength(3);
    expect(host.outputs.vaultAppRoles.secret).toBe(true);
    // The snapshot AppRole reads raft snapshots only, from the security LXC only; restic streams them to the
    // platform's repository.
    const snap = (one(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject", "platform-vault-snapshot-approle").inputs as any).object.settings;
    expect(snap).toMatchObject({ token_policies: ["dualstack-snapshot"], secret_id_bound_cidrs: ["10.10.0.10/32"], token_bound_cidrs: ["10.10.0.10/32"] });
    expect((one(host.resources, "pulumi-nodejs:dynamic/vault:ConfigObject", "platform-vault-snapshot-policy").inputs as any).object.policy).toContain(
      'path "sys/storage/raft/snapshot" {\n  capabilities = ["read"]',
    );
    const client = one(host.resources, "command:remote:Command", "platform-vault-restic").inputs as any;
    expect(client.create).toContain("sftp:restic-platform@10.10.0.13:/repo");
    expect(client.create).toContain("/usr/local/sbin/ai-dualstack-vault-snapshot");
    expect(client.stdin).toBe("(known after apply)");
  });

  it("parents every resource under the stack, through its components", () => {
    const urns = new Set(host.resources.map((r) => r.urn));
    for (const r of host.resources) if (r.type !== "pulumi:pulumi:Stack") expect(urns.has(r.parent!), r.urn).toBe(true);
  });

  it("exports each environment's slice in plain values and the tokens as one secret", () => {
    expect(host.outputs.environments).toMatchObject({ secret: false, known: true });
    const envs = host.outputs.environments.value as Record<string, any>;
    expect(envs.private).toMatchObject({
      pool: "ai-private",
      gpuMapping: "rtx5090",
      zone: { bridge: "vmbr20", vlanId: 20 },
      datastores: { guests: "tank-private", files: "files-private" },
      tokenId: "ai-private@pve!deploy",
    });
    expect(envs.public).toMatchObject({ pool: "ai-public", gpuMapping: "rtx3060", zone: { bridge: "vmbr30" } });
    expect(host.outputs.tokens.secret).toBe(true);
  });

  it("puts platform LXCs on the services zone only, unprivileged, never on the management bridge", () => {
    for (const ct of byType(host.resources, T.ct)) {
      const i = ct.inputs as any;
      expect(i.unprivileged).toBe(true);
      expect(i.networkInterfaces.map((n: any) => n.bridge)).toEqual(["vmbr10"]);
      expect(i.tags).toContain("env-platform");
    }
  });
});

describe.each([
  // public: + 16 for its two tenants (component, 2 × 6) and Qdrant's API key; both: + 2 data-service admin passwords,
  // the environment CA and PostgreSQL's certificate (6), the two data-service installs, and VaultSecrets (component,
  // 4 data/tls secrets and one per generated service secret: 1 private, 2 public); + 5 for monitoring (the DCGM
  // exporter's image and container, telemetry on the VM and the two data LXCs); + 3: the GPU VM's first boot and the
  // two data LXCs' apt proxy (the package cache); + the kept secrets: the two admin passwords and each generated
  // service secret (3 private; 4 public, and the tenants' 4 passwords)
  ["private", () => priv, "vmbr20", "rtx5090", "ai-private", "tank-private", 90],
  ["public", () => pub, "vmbr30", "rtx3060", "ai-public", "tank-public", 107],
] as const)("%s stack", (env, plan, bridge, mapping, pool, datastore, total) => {
  it("creates a GPU VM with its data holder and two data LXCs", () => {
    expect(count(plan(), T.vm)).toBe(2);
    expect(count(plan(), T.ct)).toBe(2);
    expect(count(plan(), T.file)).toBe(1);
    expect(plan().resources).toHaveLength(total);
    const ref = one(plan().resources, "pulumi:pulumi:StackReference");
    expect(ref).toMatchObject({ name: "host", read: true, inputs: { id: "organization/ai-dualstack/host" } });
  });

  it("uses only its own bridge, pool, datastores and GPU mapping, with every NIC firewalled", () => {
    for (const g of guests(plan())) {
      const i = g.inputs as any;
      expect(i.poolId).toBe(pool);
      expect(i.tags.filter((t: string) => t.startsWith("env-"))).toEqual([`env-${env}`]);
      for (const nic of i.networkDevices ?? i.networkInterfaces) expect(nic).toMatchObject({ bridge, firewall: true });
    }
    const vm = one(plan().resources, T.vm, `${env}-gpu-vm`).inputs as any;
    expect(vm.hostpcis).toEqual([expect.objectContaining({ mapping })]);
    const datastores = JSON.stringify(guests(plan()).map((g) => g.inputs)).match(/tank-\w+/g);
    expect(new Set(datastores)).toEqual(new Set([datastore]));
  });

  it("mentions nothing of the other environment", () => {
    const other =
      env === "private"
        ? ["vmbr30", "rtx3060", "ai-public", "tank-public", "files-public"]
        : ["vmbr20", "rtx5090", "ai-private", "tank-private", "files-private"];
    const text = JSON.stringify(plan().resources);
    for (const o of other) expect(text).not.toContain(o);
  });

  it("deploys with its own token from the host stack, kept secret", () => {
    const provider = one(plan().resources, "pulumi:providers:proxmoxve").inputs as any;
    expect(provider.apiToken).toBe("[secret]");
    expect(provider.ssh).toBe("[secret]"); // the SSH block holds the private key, so all of it is secret
    expect(provider.insecure).toBe("false");
  });
});

describe("AI workloads", () => {
  const models = (plan: PlanResult) => byType(plan.resources, "pulumi-nodejs:dynamic/ollama:Model").map((m) => m.inputs as any);
  const containers = (plan: PlanResult) => byType(plan.resources, "docker:index/container:Container").map((c) => c.inputs as any);

  it("private deploys the qwen2.5 models on the RTX 5090, and they fit", () => {
    expect(models(priv).map((m) => [m.name, m.from ?? null, m.capacity.catalogModel, m.capacity.fits])).toEqual([
      ["qwen2.5:14b", null, "qwen2.5:14b", true],
      ["second-brain:32b", "qwen2.5:32b", "qwen2.5:32b", true],
    ]);
    expect(priv.outputs.capacity.value).toMatchObject({ gpu: { catalog: "rtx-5090" }, fits: true });
    for (const m of models(priv)) expect(m).toMatchObject({ host: "https://10.20.0.10:11434", caCert: "(known after apply)" }); // through the TLS gateway
  });

  it("public deploys mistral:7b on the RTX 3060, and it fits", () => {
    expect(models(pub).map((m) => m.name)).toEqual(["mistral:7b"]);
    expect(pub.outputs.capacity.value).toMatchObject({ gpu: { catalog: "rtx-3060-12gb" }, fits: true });
  });

  it.each([
    ["private", () => priv],
    ["public", () => pub],
  ] as const)("%s: Ollama runs on the GPU with explicit settings; model deployments wait for it", (env, plan) => {
    const ollama = containers(plan()).find((c) => c.name === `${env}-ollama-1`);
    expect(ollama.gpus).toBe("all");
    for (const key of [
      "OLLAMA_CONTEXT_LENGTH",
      "OLLAMA_NUM_PARALLEL",
      "OLLAMA_MAX_LOADED_MODELS",
      "OLLAMA_KV_CACHE_TYPE",
      "OLLAMA_FLASH_ATTENTION",
      "OLLAMA_KEEP_ALIVE",
      "OLLAMA_GPU_OVERHEAD",
    ]) {
      expect(
        ollama.envs.some((e: string) => e.startsWith(`${key}=`)),
        key,
      ).toBe(true);
    }
    const ollamaUrn = byType(plan().resources, "docker:index/container:Container").find((c) => (c.inputs as any).name === `${env}-ollama-1`)!.urn;
    for (const d of byType(plan().resources, "dualstack:workload:ModelDeployment")) expect(d.options.dependsOn).toContain(ollamaUrn);
  });

  it.each([
    ["private", () => priv],
    ["public", () => pub],
  ] as const)("%s: nothing touches the VM's Docker engine before its first boot is over", (env, plan) => {
    const firstBoot = one(plan().resources, "pulumi-nodejs:dynamic/guest:FirstBoot", `${env}-gpu-first-boot`);
    const engine = one(plan().resources, "pulumi:providers:docker", `${env}-services-engine`);
    expect(engine.options.dependsOn).toContain(firstBoot.urn);
    const onEngine = plan().resources.filter((r) => r.type.startsWith("docker:"));
    expect(onEngine.length).toBeGreaterThan(10);
    for (const r of onEngine) expect(r.options.provider, r.name).toContain(engine.urn);
  });

  it("the services and their retained volumes show in the plans", () => {
    const vols = (plan: PlanResult) =>
      byType(plan.resources, "docker:index/volume:Volume")
        .map((v) => (v.inputs as any).name)
        .sort();
    expect(vols(priv)).toEqual(["private_chroma-data", "private_ollama-models", "private_open-webui-data"]);
    expect(vols(pub)).toEqual(["public_chatbot-data", "public_ingress-data", "public_ollama-models", "public_qdrant-data"]);
    expect(
      containers(pub)
        .map((c) => c.name)
        .sort(),
    ).toEqual(["public-chatbot-1", "public-gateway-1", "public-gpu-exporter-1", "public-ingress-1", "public-ollama-1", "public-qdrant-1"]);
    expect(containers(pub).flatMap((c) => (c.ports ?? []).filter((p: any) => p.ip === "0.0.0.0").map((p: any) => `${c.name}:${p.external}`))).toEqual([
      "public-ingress-1:443",
    ]);
  });

  it("the GPU VM's firewall admits the published ports from the management IP set only", () => {
    const rules = byType(pub.resources, T.rules).find((r) => r.name === "public-gpu-firewall-rules")!.inputs as any;
    expect(rules.rules.slice(1)).toEqual([
      expect.objectContaining({ type: "in", action: "ACCEPT", source: "+management", proto: "tcp", dport: "11434" }),
      expect.objectContaining({ type: "in", action: "ACCEPT", source: "+management", proto: "tcp", dport: "6333" }),
      expect.objectContaining({ type: "in", action: "ACCEPT", source: "+management", proto: "tcp", dport: "9400" }),
    ]);
  });
});

describe("tenants (public)", () => {
  const of = (type: string) => byType(pub.resources, type).map((r) => r.inputs as any);
  it("per tenant: a database and role, a Redis user on its own key space, a Qdrant collection, credentials in Vault", () => {
    const pg = of("pulumi-nodejs:dynamic/postgres:Tenant");
    expect(pg.map((i) => [i.tenant, i.role, i.database, i.connectionLimit, i.onDelete])).toEqual([
      ["acme", "tenant_acme", "tenant_acme", 20, "retain"],
      ["globex", "tenant_globex", "tenant_globex", 10, "retain"],
    ]);
    // The generated administrator password: unknown before apply, a secret after (the secrets scan proves it).
    for (const i of pg)
      expect(i.admin).toEqual({ host: "10.30.0.21", port: 5432, user: "ai_admin", password: "(known after apply)", caCert: "(known after apply)" });
    const redis = of("pulumi-nodejs:dynamic/redis:Tenant");
    expect(redis.map((i) => [i.user, i.keyPattern, i.admin.host, i.admin.port])).toEqual([
      ["tenant-acme", "tenant:acme:*", "10.30.0.22", 6379],
      ["tenant-globex", "tenant:globex:*", "10.30.0.22", 6379],
    ]);
    expect(of("pulumi-nodejs:dynamic/qdrant:Collection").map((i) => [i.collection, i.vectorSize, i.distance, i.url, i.apiKey])).toEqual([
      ["tenant_acme", 768, "Cosine", "https://10.30.0.10:6333", "(known after apply)"],
      ["tenant_globex", 1024, "Cosine", "https://10.30.0.10:6333", "(known after apply)"],
    ]);
    // Redis and Qdrant (through the gateway) are reached with TLS, verified against the environment CA.
    for (const i of of("pulumi-nodejs:dynamic/qdrant:Collection")) expect(i.caCert).toBe("(known after apply)");
    for (const i of of("pulumi-nodejs:dynamic/redis:Tenant")) expect(i.admin).toMatchObject({ caCert: "(known after apply)" });
    const vault = byType(pub.resources, "pulumi-nodejs:dynamic/vault:KvSecret").filter((r) => (r.inputs as any).path.startsWith("tenants/"));
    expect(
      vault.map((r) => [(r.inputs as any).address, (r.inputs as any).mount, (r.inputs as any).path, (r.inputs as any).appRole, (r.inputs as any).data]),
    ).toEqual([
      [
        "https://10.10.0.10:8200",
        "kv-public",
        "tenants/acme",
        "[secret]",
        expect.objectContaining({ POSTGRES_URL: "(known after apply)", QDRANT_COLLECTION: "tenant_acme", REDIS_KEY_PREFIX: "tenant:acme:", MODELS: "*" }),
      ],
      [
        "https://10.10.0.10:8200",
        "kv-public",
        "tenants/globex",
        "[secret]",
        expect.objectContaining({ REDIS_URL: "(known after apply)", QDRANT_COLLECTION: "tenant_globex" }),
      ],
    ]);
    // Written only once the objects it names exist.
    for (const v of vault) {
      const tenant = (v.inputs as any).path.split("/")[1];
      const objects = pub.resources.filter(
        (r) =>
          r.type.startsWith("pulumi-nodejs:dynamic/") &&
          r.type !== "pulumi-nodejs:dynamic/vault:KeptSecret" &&
          r.name.startsWith(`public-tenants-${tenant}-`) &&
          r.urn !== v.urn,
      );
      expect(objects.map((o) => o.name).sort()).toEqual([
        `public-tenants-${tenant}-postgres`,
        `public-tenants-${tenant}-qdrant`,
        `public-tenants-${tenant}-redis`,
      ]);
      expect(v.options.dependsOn).toEqual(expect.arrayContaining(objects.map((o) => o.urn)));
    }
    expect(byType(priv.resources, "dualstack:tenancy:Tenants")).toEqual([]);
  });
});

describe.each([
  ["private", () => priv, ["services/open-webui-secret-key", "tls/ollama", "tls/open-webui", "tls/chroma"]],
  ["public", () => pub, ["services/chatbot-secret-key", "services/qdrant-api-key", "tls/ollama", "tls/qdrant"]],
] as const)("%s secrets and data services", (env, plan, own) => {
  it("writes every generated credential and its TLS material to its own Vault mount, after the data services are installed", () => {
    const secrets = byType(plan().resources, "pulumi-nodejs:dynamic/vault:KvSecret").filter((r) => r.parent!.endsWith(`VaultSecrets::${env}-secrets`));
    // A certificate per service reached across the network: the data LXCs' and each port of the VM's TLS gateway.
    expect(secrets.map((r) => (r.inputs as any).path).sort()).toEqual(
      [...own, "data/postgres-admin", "data/redis-admin", "tls/ca", "tls/postgres", "tls/redis"].sort(),
    );
    for (const r of secrets) {
      expect(r.inputs as any).toMatchObject({ address: "https://10.10.0.10:8200", mount: `kv-${env}`, appRole: "[secret]" });
      // The map's keys known at preview (the provider's check needs them; the real engine caught an unknown map),
      // every value secret or computed.
      // (the recorder shows a map holding known secrets as one "[secret]").
      const data = (r.inputs as any).data;
      if (typeof data === "string") expect(data).toBe("[secret]");
      else {
        expect(Object.keys(data).length).toBeGreaterThan(0);
        for (const v of Object.values(data)) expect(["[secret]", "(known after apply)"]).toContain(v);
      }
      expect(r.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["data", "appRole"]));
    }
    const installs = byType(plan().resources, "command:remote:Command").filter((r) => r.name.endsWith("-install"));
    expect(installs.map((r) => r.name).sort()).toEqual([`${env}-postgres-install`, `${env}-redis-install`]);
    for (const i of installs) {
      expect((i.inputs as any).stdin).toBe("(known after apply)"); // the password and keys, on stdin only
      expect((i.inputs as any).create).not.toMatch(/BEGIN [A-Z ]+-----\n[A-Za-z0-9+/]/);
    }
    // File-level backups: each machine streams its own sources into the environment's repository (password and key on stdin).
    const restic = byType(plan().resources, "command:remote:Command").filter((r) => r.name.endsWith("-restic"));
    expect(restic.map((r) => r.name).sort()).toEqual([`${env}-gpu-vm-restic`, `${env}-postgres-restic`, `${env}-redis-restic`]);
    for (const r of restic) {
      expect((r.inputs as any).stdin).toBe("[secret]"); // from secret config, known at preview: shown only as secret
      expect((r.inputs as any).create).toContain(`RESTIC_REPOSITORY='sftp:restic-${env}@10.10.0.13:/repo'`);
      expect((r.inputs as any).create).not.toContain("ai-dualstack-restic-forget"); // retention runs on the server only
    }
    expect((one(plan().resources, "command:remote:Command", `${env}-postgres-restic`).inputs as any).create).toContain("pg_dumpall --clean --if-exists");
    expect((one(plan().resources, "command:remote:Command", `${env}-gpu-vm-restic`).inputs as any).create).toContain(
      // The VM's engine keeps its volumes on the data disk (daemon.json data-root), not in /var/lib/docker.
      `tar -C /srv/data/docker/volumes/${env}_ollama-models/_data -cf - .`,
    );
    expect((one(plan().resources, "command:remote:Command", `${env}-gpu-vm-restic`).inputs as any).create).toContain('sudo -n bash "$f"');
    const component = one(plan().resources, "dualstack:security:VaultSecrets", `${env}-secrets`);
    expect(component.options.dependsOn).toEqual(expect.arrayContaining(installs.map((i) => i.urn)));
    const pgInstall = one(plan().resources, "command:remote:Command", `${env}-postgres-install`).inputs as any;
    expect(pgInstall.create).toContain(`hostssl all  all  ${env === "private" ? "10.20.0.0/24" : "10.30.0.0/24"}   scram-sha-256`);
    expect(pgInstall.create).toContain("hostssl all  all  192.168.10.0/28 scram-sha-256");
  });

  it("opens PostgreSQL and Redis to the management IP set only, beyond the zone", () => {
    const rules = (ct: string) => ((one(plan().resources, T.rules, `${env}-${ct}-firewall-rules`).inputs as any).rules as any[]).slice(1);
    expect(rules("postgres")).toEqual([expect.objectContaining({ type: "in", action: "ACCEPT", source: "+management", proto: "tcp", dport: "5432" })]);
    expect(rules("redis")).toEqual([expect.objectContaining({ type: "in", action: "ACCEPT", source: "+management", proto: "tcp", dport: "6379" })]);
  });
});

describe("secrets never appear in the plan", () => {
  it("has only redactions where secrets go", () => {
    for (const plan of [host, priv, pub]) {
      const text = JSON.stringify(plan.resources);
      expect(text).not.toContain(OFFLINE_SECRET_PLACEHOLDER);
      expect(text).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    }
    const hostProvider = one(host.resources, "pulumi:providers:proxmoxve").inputs as any;
    expect(hostProvider.apiToken).toBe("[secret]");
  });
});

describe("an invalid configuration", () => {
  it("stops the program before any resource is registered", async () => {
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: "", state: a.inputs }), call: () => ({}) }, "ai-dualstack", "private", true);
    const recorded = recordRegistrations();
    const { readStackFile } = await import("../../ops/engine");
    const raw = readStackFile(stackFile("private"));
    const gpuVm = JSON.parse(raw.values["ai-dualstack:gpuVm"]);
    pulumi.runtime.setAllConfig({ ...raw.values, "ai-dualstack:gpuVm": JSON.stringify({ ...gpuVm, memoryGiB: "lots" }) }, raw.secretKeys);
    const { runProgram } = await import("../../program");
    await expect(runProgram({ offline: true })).rejects.toBeInstanceOf(ConfigError);
    await settle();
    expect(recorded).toEqual([]);
  });

  it("under the real engine becomes a RunError: message only, no stack trace", async () => {
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: "", state: a.inputs }), call: () => ({}) }, "ai-dualstack", "private", true);
    pulumi.runtime.setAllConfig({ "ai-dualstack:role": "private" }, []);
    const { runProgram } = await import("../../program");
    const err = await runProgram().catch((e) => e);
    expect(err).toBeInstanceOf(pulumi.RunError);
    expect(err.message).toContain("ai-dualstack:node:");
  });
});

describe("cross-stack checks", () => {
  it("a real run refuses another environment's token before creating anything", async () => {
    const { readStackFile } = await import("../../ops/engine");
    await pulumi.runtime.setMocks(
      {
        newResource: (a) =>
          a.type === "pulumi:pulumi:StackReference"
            ? { id: "host", state: { name: "host", outputs: { environments: host.outputs.environments.value }, secretOutputNames: [] } }
            : { id: "", state: a.inputs },
        call: () => ({}),
      },
      "ai-dualstack",
      "private",
      true,
    );
    const recorded = recordRegistrations();
    const raw = readStackFile(stackFile("private"));
    pulumi.runtime.setAllConfig(
      {
        ...raw.values,
        "ai-dualstack:proxmoxApiToken": "ai-public@pve!deploy=SECRET-VALUE",
        "ai-dualstack:sshPrivateKey": "KEY",
        "ai-dualstack:vaultRoleId": "R",
        "ai-dualstack:vaultSecretId": "S",
      },
      ["ai-dualstack:proxmoxApiToken", "ai-dualstack:sshPrivateKey", "ai-dualstack:vaultRoleId", "ai-dualstack:vaultSecretId"],
    );
    const { runProgram } = await import("../../program");
    const err = await runProgram().catch((e) => e);
    await settle();
    expect(err).toBeInstanceOf(pulumi.RunError);
    expect(err.message).toContain(
      "ai-dualstack:proxmoxApiToken: expected the private environment's token (ai-private@pve!deploy=…), got a token of ai-public@pve!deploy",
    );
    expect(err.message).not.toContain("SECRET-VALUE");
    expect(recorded.filter((r) => !r.read)).toEqual([]);
  });

  it("an over-committed box is refused at preview, with the numbers: the host's, and an environment's over its budget", async () => {
    const { writeFileSync, mkdtempSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "stack-"));
    // The sizes the stacks shipped with before budgets: 64 + 32 GiB VMs and their containers on 128 GB.
    const hostText = readFileSync(stackFile("host"), "utf8")
      .replace("      memoryGiB: 52\n", "      memoryGiB: 76\n")
      .replace("      memoryGiB: 32\n", "      memoryGiB: 44\n");
    writeFileSync(join(dir, "Pulumi.host.yaml"), hostText);
    const hostErr = await evaluateStack("host", { configFile: join(dir, "Pulumi.host.yaml") }).catch((e) => e);
    expect(hostErr).toBeInstanceOf(ConfigError);
    expect(hostErr.problems).toEqual([
      expect.stringMatching(/^ai-dualstack:nodes\[0\]\.memory\.totalGiB: node pve1 is over-committed by 23 GiB: .* = 151 GiB of 128 GiB;/),
    ]);
    writeFileSync(join(dir, "Pulumi.public.yaml"), readFileSync(stackFile("public"), "utf8").replace("    memoryGiB: 24\n", "    memoryGiB: 32\n"));
    const envErr = await evaluateStack("public", { configFile: join(dir, "Pulumi.public.yaml"), host }).catch((e) => e);
    expect(envErr).toBeInstanceOf(ConfigError);
    expect(envErr.problems).toEqual([
      "ai-dualstack:gpuVm.memoryGiB: the public environment's guests take gpu-vm 32 GiB + postgres 4 GiB + redis 2 GiB = 38 GiB of the 32 GiB budget the host stack gives it (environments.public.memoryGiB); lower gpuVm.memoryGiB or a container's memoryMiB, or raise the budget in the host stack",
    ]);
  });

  it("a VM too small for its own services is refused at preview, naming the largest", async () => {
    const { writeFileSync, mkdtempSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "stack-"));
    // Every tier in the shipped 40 GiB VM (the examples give it 104).
    const text = readFileSync(join(ROOT, "examples/catalog/Pulumi.private.yaml"), "utf8").replace("    memoryGiB: 104\n", "    memoryGiB: 40\n");
    writeFileSync(join(dir, "Pulumi.private.yaml"), text);
    writeFileSync(join(dir, "Pulumi.host.yaml"), readFileSync(join(ROOT, "examples/catalog/Pulumi.host.yaml"), "utf8"));
    const err = await evaluateStack("private", { configFile: join(dir, "Pulumi.private.yaml"), secrets: dummySecrets("private") }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([
      "ai-dualstack:gpuVm.memoryGiB: the VM's services need 100.11 GiB of its 40.00 GiB (OS 2.00 GiB; largest: ollama 31.61 GiB with its models in RAM, vllm 16.00 GiB, jupyter 16.00 GiB, langflow 4.00 GiB, unstructured 4.00 GiB); raise gpuVm.memoryGiB (within the environment's budget) or lower the services' memoryMiB",
    ]);
  }, 60_000);

  it("an environment whose addresses are outside its zone is refused with the key", async () => {
    const { writeFileSync, mkdtempSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "stack-"));
    writeFileSync(join(dir, "Pulumi.public.yaml"), readFileSync(stackFile("public"), "utf8").replace("address: 10.30.0.10/24", "address: 10.20.0.10/24"));
    const err = await evaluateStack("public", { configFile: join(dir, "Pulumi.public.yaml"), host }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([
      'ai-dualstack:gpuVm.address: expected a host address inside the public zone 10.30.0.0/24 with the same prefix, got "10.20.0.10/24"',
    ]);
  });
});
