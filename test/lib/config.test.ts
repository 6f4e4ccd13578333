import { describe, expect, it } from "vitest";
import { ConfigError, OFFLINE_SECRET_PLACEHOLDER, loadConfig, type RawConfig } from "../../lib/config/load";
import { DELETE, committedConfig, edit } from "../helpers/config";

function problemsOf(raw: RawConfig, offline = false): string[] {
  try {
    loadConfig(raw, { offline });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("the committed stack configs", () => {
  it.each(["host", "private", "public"] as const)("%s is valid and fills defaults", (stack) => {
    const loaded = loadConfig(committedConfig(stack));
    expect(loaded.role).toBe(stack);
    expect(loaded.config.proxmox.insecure).toBe(false);
  });

  it("host: defaults apply where the file is silent", () => {
    const raw = edit(committedConfig("host"), "networks", ["private", "mtu"], DELETE);
    const loaded = loadConfig(raw);
    if (loaded.role !== "host") throw new Error("role");
    expect(loaded.config.networks.private.mtu).toBe(1500);
    expect(loaded.config.nodes[0].gpus[0].companionIds).toEqual(["10de:22e8"]);
    expect(loaded.config.platform.containers.security.features).toEqual(["nesting"]);
  });
});

// Each case: an edit of a committed config, the key path the error must name, and a fragment of the message.
const HOST_CASES: [string, string, (string | number)[], unknown, string, string][] = [
  ["wrong type", "nodes", [0, "gpus", 0, "iommuGroup"], "fourteen", "ai-dualstack:nodes[0].gpus[0].iommuGroup", "expected a whole number"],
  ["out of range", "networks", ["private", "vlanId"], 5000, "ai-dualstack:networks.private.vlanId", "from 2 to 4094"],
  [
    "unknown key",
    "networks",
    ["private", "vlan"],
    20,
    "ai-dualstack:networks.private.vlan",
    "unknown key; expected one of: bridge, vlanId, cidr, gateway, mtu",
  ],
  ["missing required", "networks", ["public", "cidr"], DELETE, "ai-dualstack:networks.public.cidr", "got nothing (the key is required)"],
  ["network with host bits", "networks", ["public", "cidr"], "10.30.0.5/24", "ai-dualstack:networks.public.cidr", "no host bits"],
  ["bad bridge name", "networks", ["private", "bridge"], "br-private", "ai-dualstack:networks.private.bridge", "vmbr20"],
  ["duplicate bridge", "networks", ["public", "bridge"], "vmbr20", "ai-dualstack:networks.public.bridge", "already used"],
  ["duplicate VLAN", "networks", ["public", "vlanId"], 20, "ai-dualstack:networks.public.vlanId", "already used"],
  ["overlapping subnets", "networks", ["public", "cidr"], "10.20.0.0/16", "ai-dualstack:networks.public.cidr", "overlaps the private zone"],
  ["gateway outside its zone", "networks", ["private", "gateway"], "10.30.0.1", "ai-dualstack:networks.private.gateway", "inside 10.20.0.0/24"],
  ["no admin network", "networks", ["mgmt", "adminCidrs"], [], "ai-dualstack:networks.mgmt.adminCidrs", "at least one admin network"],
  ["unstable disk path", "nodes", [0, "mirrors", "tank", "devices", 0], "/dev/nvme1n1", "ai-dualstack:nodes[0].mirrors.tank.devices[0]", "/dev/disk/by-id/"],
  [
    "one-disk mirror",
    "nodes",
    [0, "mirrors", "tank", "devices"],
    ["/dev/disk/by-id/nvme-x"],
    "ai-dualstack:nodes[0].mirrors.tank.devices",
    "at least two disks",
  ],
  ["bad PCI id", "nodes", [0, "gpus", 0, "deviceId"], "10DE:2B85", "ai-dualstack:nodes[0].gpus[0].deviceId", "lower-case hex"],
  ["bad PCI path", "nodes", [0, "gpus", 0, "path"], "02:00.0", "ai-dualstack:nodes[0].gpus[0].path", "0000:01:00"],
  ["duplicate GPU mapping", "nodes", [0, "gpus", 1, "mapping"], "rtx5090", "ai-dualstack:nodes[0].gpus[1].mapping", "already used"],
  ["both GPUs private", "nodes", [0, "gpus", 1, "environment"], "private", "ai-dualstack:nodes", 'environment "public"'],
  ["unknown environment", "nodes", [0, "gpus", 1, "environment"], "staging", "ai-dualstack:nodes[0].gpus[1].environment", 'one of "private", "public"'],
  ["unknown mirror", "environments", ["public", "mirror"], "nvme3", "ai-dualstack:environments.public.mirror", "configured mirror"],
  ["shared pool", "environments", ["public", "pool"], "ai-private", "ai-dualstack:environments.public.pool", "already used"],
  ["bad expiry date", "environments", ["private", "tokenExpires"], "2027-13-45", "ai-dualstack:environments.private.tokenExpires", "real calendar date"],
  [
    "plain http image",
    "environments",
    ["private", "cloudImage", "url"],
    "http://example.com/x.img",
    "ai-dualstack:environments.private.cloudImage.url",
    "https://",
  ],
  [
    "privileged feature",
    "platform",
    ["containers", "cicd", "features"],
    ["nesting", "fuse"],
    "ai-dualstack:platform.containers.cicd.features[1]",
    'one of "nesting", "keyctl"',
  ],
  [
    "container outside services zone",
    "platform",
    ["containers", "backup", "address"],
    "10.20.0.13/24",
    "ai-dualstack:platform.containers.backup.address",
    "services zone",
  ],
  ["duplicate VMID", "platform", ["containers", "backup", "vmId"], 110, "ai-dualstack:platform.containers.backup.vmId", "already used"],
  [
    "data path on a system directory",
    "platform",
    ["containers", "backup", "data", "path"],
    "/etc",
    "ai-dualstack:platform.containers.backup.data.path",
    "not a system directory",
  ],
  ["bad ssh key", "platform", ["sshKeys", 0], "not-a-key", "ai-dualstack:platform.sshKeys[0]", "OpenSSH public key"],
  ["unknown platform node", "platform", ["node"], "pve9", "ai-dualstack:platform.node", "configured nodes"],
  [
    "drill range backwards",
    "backup",
    ["drill"],
    { firstVmId: 9900, lastVmId: 9000 },
    "ai-dualstack:backup.drill.lastVmId",
    "expected firstVmId at most lastVmId",
  ],
  ["drill pool shared", "backup", ["drill"], { pool: "platform" }, "ai-dualstack:backup.drill.pool", "already used"],
  [
    "drill range over a guest",
    "backup",
    ["drill"],
    { firstVmId: 100, lastVmId: 199 },
    "ai-dualstack:backup.drill.firstVmId",
    "platform.containers.security.vmId 110 is in 100-199",
  ],
  ["plain-http endpoint", "proxmox", ["endpoint"], "http://192.168.10.2:8006/", "ai-dualstack:proxmox.endpoint", "https://"],
];

const ENV_CASES: [string, string, (string | number)[], unknown, string, string][] = [
  ["wrong type", "gpuVm", ["memoryGiB"], "lots", "ai-dualstack:gpuVm.memoryGiB", 'expected a whole number from 4 to 1024 (GiB), got "lots"'],
  ["out of range", "gpuVm", ["cores"], 0, "ai-dualstack:gpuVm.cores", "from 1 to 256"],
  ["unknown key", "gpuVm", ["memroyGiB"], 64, "ai-dualstack:gpuVm.memroyGiB", "unknown key"],
  ["missing required", "gpuVm", ["dataVmId"], DELETE, "ai-dualstack:gpuVm.dataVmId", "required"],
  ["hugepages need root", "gpuVm", ["hugepages"], "1024", "ai-dualstack:gpuVm.hugepages", "root@pam"],
  ["same VMID twice", "containers", ["redis", "vmId"], 210, "ai-dualstack:containers.redis.vmId", "already used by containers.postgres.vmId"],
  ["bad duration", "gpuVm", ["agentTimeout"], "forever", "ai-dualstack:gpuVm.agentTimeout", "15m"],
  ["bad driver package", "gpuVm", ["nvidiaDriverPackage"], "nvidia; rm -rf /", "ai-dualstack:gpuVm.nvidiaDriverPackage", "a Debian/Ubuntu package name"],
  ["driver of another OS", "gpuVm", ["os"], "debian-13", "ai-dualstack:gpuVm.nvidiaDriverPackage", "is not an NVIDIA driver package of debian-13"],
  ["no ssh keys", "sshKeys", [], [], "ai-dualstack:sshKeys", "at least one SSH public key"],
  ["address without prefix", "containers", ["postgres", "address"], "10.20.0.21", "ai-dualstack:containers.postgres.address", "with prefix"],
];

describe("invalid configurations name their key", () => {
  it.each(HOST_CASES)("host: %s", (_what, key, path, value, keyPath, fragment) => {
    const problems = problemsOf(edit(committedConfig("host"), key, path, value));
    const hit = problems.find((p) => p.startsWith(`${keyPath}:`));
    expect(hit, `expected an error for ${keyPath}, got:\n${problems.join("\n")}`).toBeDefined();
    expect(hit).toContain(fragment);
  });

  it.each(ENV_CASES)("private: %s", (_what, key, path, value, keyPath, fragment) => {
    const problems = problemsOf(edit(committedConfig("private"), key, path, value));
    const hit = problems.find((p) => p.startsWith(`${keyPath}:`));
    expect(hit, `expected an error for ${keyPath}, got:\n${problems.join("\n")}`).toBeDefined();
    expect(hit).toContain(fragment);
  });

  it("a derived model whose chain of bases leads back to itself is refused at the model that starts the cycle", () => {
    let raw = edit(committedConfig("private"), "models", [1, "from"], "second-brain-base:32b");
    raw = edit(raw, "models", [1, "catalogModel"], "qwen2.5:32b");
    raw = edit(raw, "models", [2], { name: "second-brain-base:32b", from: "second-brain:32b", catalogModel: "qwen2.5:32b" });
    expect(problemsOf(raw)).toEqual([
      "ai-dualstack:models[1].from: expected a model pulled by tag at the root of every derivation, got the cycle second-brain:32b → second-brain-base:32b → second-brain:32b",
    ]);
  });

  it("lists every problem at once, not just the first", () => {
    let raw = edit(committedConfig("public"), "gpuVm", ["memoryGiB"], "lots");
    raw = edit(raw, "gpuVm", ["cores"], -1);
    raw = edit(raw, "node", [], DELETE);
    raw = edit(raw, "extra", [], "typo");
    const problems = problemsOf(raw);
    expect(problems.map((p) => p.split(":").slice(0, 2).join(":")).sort()).toEqual(
      ["ai-dualstack:extra", "ai-dualstack:gpuVm.cores", "ai-dualstack:gpuVm.memoryGiB", "ai-dualstack:node"].sort(),
    );
  });

  it("rejects a missing or unknown role before anything else", () => {
    expect(problemsOf(edit(committedConfig("host"), "role", [], DELETE))).toEqual([
      'ai-dualstack:role: expected one of "host", "private", "public", got nothing (the key is required)',
    ]);
    expect(problemsOf(edit(committedConfig("host"), "role", [], "staging"))[0]).toContain('got "staging"');
  });

  it("rejects a structured value that is not valid JSON with the expected form", () => {
    const raw = committedConfig("private");
    const problems = problemsOf({ ...raw, values: { ...raw.values, "ai-dualstack:gpuVm": "{not json" } });
    expect(problems[0]).toMatch(/^ai-dualstack:gpuVm: expected/);
  });

  it("ignores other namespaces (pulumi:tags, provider config)", () => {
    const raw = committedConfig("private");
    expect(problemsOf({ ...raw, values: { ...raw.values, "pulumi:tags": "{}" } })).toEqual([]);
  });
});

describe("secrets", () => {
  it("accepts them only as Pulumi secrets, and never echoes a plain one", () => {
    const raw = committedConfig("host");
    const plain = { values: raw.values, secretKeys: raw.secretKeys.filter((k) => k !== "ai-dualstack:proxmoxApiToken") };
    const problems = problemsOf(plain);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ai-dualstack:proxmoxApiToken: must be set as a secret/);
    expect(problems.join("\n")).not.toContain("11111111-2222");
  });

  it("requires them in a real run and returns them apart from the config", () => {
    const raw = committedConfig("host");
    const without = edit(raw, "proxmoxApiToken", [], DELETE);
    expect(problemsOf(without)[0]).toMatch(/^ai-dualstack:proxmoxApiToken: expected a Proxmox API token .* got nothing/);
    const loaded = loadConfig(raw);
    expect(loaded.secrets.proxmoxApiToken).toContain("11111111-2222");
    expect(JSON.stringify(loaded.config)).not.toContain("11111111-2222");
  });

  it("environment stacks need no SSH key when the SSH agent is used; the host always does (host preparation)", () => {
    let raw = edit(committedConfig("private"), "proxmox", ["ssh", "agent"], true);
    raw = edit(raw, "sshPrivateKey", [], DELETE);
    expect(problemsOf(raw)).toEqual([]);
    let hostRaw = edit(committedConfig("host"), "proxmox", ["ssh", "agent"], true);
    hostRaw = edit(hostRaw, "sshPrivateKey", [], DELETE);
    expect(problemsOf(hostRaw)).toEqual([expect.stringMatching(/^ai-dualstack:sshPrivateKey: expected an OpenSSH private key/)]);
  });

  it("alert receivers: their secrets are required once configured, routes name only configured receivers", () => {
    const alerts = (a: unknown) => edit(edit(committedConfig("host"), "alertWebhookUrl", [], DELETE), "platform", ["monitoring"], { alerts: a });
    const webhook = { webhook: { origin: "https://hooks.example.org" } };
    expect(problemsOf(alerts(webhook))).toEqual([expect.stringMatching(/^ai-dualstack:alertWebhookUrl: expected the webhook's full URL, starting with/)]);
    const withUrl = edit(alerts(webhook), "alertWebhookUrl", [], "https://hooks.example.org/t/TOKEN");
    expect(problemsOf(withUrl)).toEqual([]);
    const plain = { ...withUrl, secretKeys: withUrl.secretKeys.filter((k) => k !== "ai-dualstack:alertWebhookUrl") };
    expect(problemsOf(plain)[0]).toMatch(/^ai-dualstack:alertWebhookUrl: must be set as a secret/);
    expect(problemsOf(plain).join("")).not.toContain("TOKEN");
    expect(problemsOf(alerts({ ...webhook, page: ["email"] }))).toContain(
      'ai-dualstack:platform.monitoring.alerts.page[0]: expected a configured receiver ("webhook"), got "email"',
    );
    expect(problemsOf(alerts({ webhook: { origin: "https://hooks.example.org/t/TOKEN" } }))).toContainEqual(
      expect.stringMatching(
        /^ai-dualstack:platform.monitoring.alerts.webhook.origin: expected an https origin such as "https:\/\/ntfy.example.org" \(no path: the full URL is secret config\)/,
      ),
    );
    expect(problemsOf(alerts({ email: { to: ["not-an-address"], from: "am@example.org", smarthost: "smtp.example.org:587" } }))).toEqual([
      expect.stringMatching(/^ai-dualstack:platform.monitoring.alerts.email.to\[0\]: expected an e-mail address/),
    ]);
  });

  it("every environment stack needs its Vault AppRole: all generated credentials are written with it", () => {
    for (const env of ["public", "private"] as const) {
      const raw = edit(edit(committedConfig(env), "vaultRoleId", [], DELETE), "vaultSecretId", [], DELETE);
      expect(problemsOf(raw)).toEqual([
        expect.stringMatching(/^ai-dualstack:vaultRoleId: expected this environment's Vault AppRole role_id .* got nothing/),
        expect.stringMatching(/^ai-dualstack:vaultSecretId: expected this environment's Vault AppRole secret_id .* got nothing/),
      ]);
    }
    expect(problemsOf(committedConfig("private"))).toEqual([]);
  });

  it("tenants' collections: vector size and distance, with defaults", () => {
    const loaded = loadConfig(committedConfig("public"));
    if (loaded.role === "host") throw new Error("env");
    expect(loaded.config.tenants.map((t) => t.vectors)).toEqual([
      { size: 768, distance: "Cosine" },
      { size: 1024, distance: "Cosine" },
    ]);
    expect(problemsOf(edit(committedConfig("public"), "tenants", [0, "vectors"], { size: 0, distance: "Nearest" }))).toEqual([
      "ai-dualstack:tenants[0].vectors.size: expected a whole number from 1 to 65536 (dimensions), got 0",
      'ai-dualstack:tenants[0].vectors.distance: expected one of "Cosine", "Dot", "Euclid", "Manhattan", got "Nearest"',
    ]);
  });

  it("gets placeholders in the offline engine, which cannot decrypt", () => {
    const raw = edit(edit(committedConfig("host"), "proxmoxApiToken", [], DELETE), "sshPrivateKey", [], DELETE);
    expect(loadConfig(raw, { offline: true }).secrets.proxmoxApiToken).toBe(OFFLINE_SECRET_PLACEHOLDER);
  });
});
