// `npm run test:engine`: the program under the real Pulumi engine (CLI and Node.js language host built from the Go
// module proxy by scripts/pulumi-toolchain.sh), with a local backend and the passphrase secrets provider, and the
// real proxmoxve provider logic: pulumi-resource-proxmoxve built here from bpg's Terraform provider and Pulumi's
// Terraform bridge (scripts/proxmoxve-plugin.sh), installed as the engine installs any plugin.
//   1. every proxmoxve type and input the plans of the shipped and example stacks emit is in the plugin's schema
//   2. the three stacks initialised from the committed stack files, secrets set as secrets; the host's outputs
//      imported from the offline engine's result, so that real StackReferences resolve
//   3. `pulumi preview --policy-pack policies` of host, private and public with the real plugin: its Check and Diff,
//      zero mandatory violations, as many resources as the offline engine plans, and the inputs the engine sent the
//      plugin equal to the offline plan's
//   4. a violating configuration stopped by the real engine, the policy's name in its output
//   5. per stack: `up` and `refresh` with stand-ins (no Proxmox here; the dynamic providers' servers do not exist
//      either, so their resources are excluded), the proxmoxve resources then given the state the real plugin
//      planned for them, and `preview --expect-no-changes` with the real plugin: no perpetual diff
//   6. no secret value in plain text in any exported state
// Everything that talks to the plugins runs in a network namespace of its own with only a loopback: the stack files'
// Proxmox endpoint (192.168.10.2) is not reachable, so the provider's logic runs and nothing leaves this machine.
// Providers whose modules the proxy refuses (docker, command, random, tls) keep stand-ins
// (test/engine/standin-provider.ts), which the output names as such. Exit 0 when every check passes.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { evaluateStack, type PlanResult } from "../../ops/engine";
import { dummySecrets, secretNeedles } from "../helpers/config";
import { ipOf } from "../../lib/net";
import { startFirstBootStandIn } from "./first-boot-standin";
import { startFakeProxmox } from "../helpers/fake-proxmox";
import { startFakeVault } from "../helpers/fake-vault";
import { makeTestCa } from "../helpers/pki";
import { tool } from "../helpers/process";
import { differences, typeAndName } from "./compare-inputs";
import { exchangesOf, knownPart } from "./grpc-log";
import { hostStateFrom } from "./host-state";
import { checkPluginCoverage } from "./plugin-coverage";
import { describePreview, readPreview } from "./preview-output";
import { applyRealState } from "./real-state";
import { STANDIN_PACKAGES, generatedSecretValues } from "./standin-provider";
import { computeOf, drillPlan } from "../../ops/drill";
import { automationWorkspace } from "../../ops/workspace";
import { Workspace } from "./workspace";

const ROOT = resolve(__dirname, "..", "..");
const PROJECT = "ai-dualstack";
const STACKS = ["host", "private", "public"] as const;
type Stack = (typeof STACKS)[number];
/**
 * The resources whose own id is their input resourceId (the PF resources whose "id" the plugin's mapping renames,
 * scripts/proxmoxve-plugin/mapping.go), read from the plugin's schema.
 */
function idFieldsOf(schema: { resources: Record<string, { inputProperties?: Record<string, unknown> }> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(schema.resources)
      .filter(([, r]) => r.inputProperties && "resourceId" in r.inputProperties)
      .map(([type]) => [type, "resourceId"]),
  );
}

class CheckFailed extends Error {}

function check(ok: boolean, what: string, output?: string): void {
  if (ok) return;
  throw new CheckFailed(`FAILED: ${what}${output ? `\n---- pulumi output ----\n${output.trim()}\n----` : ""}`);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs a build script (cached after the first run) and returns the directory it printed last. */
function built(script: string): string {
  const out = execFileSync("bash", [join(ROOT, "scripts", script)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").pop()!;
}

/** Resources a preview creates for a plan: every registration (the root stack's among them) but reads (StackReferences). */
function expectedCreates(plan: PlanResult): number {
  return plan.resources.filter((r) => !r.read).length;
}

/** The first boot's resource: it runs under the engine, its VM's SSH stood in for (first-boot-standin.ts). */
const FIRST_BOOT = "pulumi-nodejs:dynamic/guest:FirstBoot";
/** Vault's resources run too, against the Vault API stand-in on Vault's address (startVaultStandIn). */
const VAULT_TYPES = "pulumi-nodejs:dynamic/vault:";

/**
 * The Vault API stand-in (test/helpers/fake-vault.ts) on the address the host config gives Vault, over TLS with a
 * certificate from a test CA that the stand-in tls provider returns as every self-signed certificate: the host's
 * configuration objects and AppRole credentials, and every stack's kept and KV secrets, run under the engine and are
 * refreshed and previewed against it. It takes the host's admin token and the environments' AppRoles.
 */
async function startVaultStandIn(hostPlan: PlanResult) {
  const address = String(hostPlan.resources.find((r) => r.type === `${VAULT_TYPES}ConfigObject`)?.inputs.address ?? "");
  const url = new URL(address);
  if (!url.hostname.startsWith("127.")) execFileSync(tool("ip"), ["addr", "add", `${url.hostname}/32`, "dev", "lo"]);
  const ca = makeTestCa("Vault stand-in CA");
  const cert = ca.issue(url.hostname, { ip: [url.hostname] });
  const env = (s: "private" | "public") => ({ roleId: dummySecrets(s).vaultRoleId, secretId: dummySecrets(s).vaultSecretId });
  const vault = await startFakeVault([], {
    token: dummySecrets("host").vaultToken,
    logins: [env("private"), env("public")],
    tls: { key: cert.keyPem, cert: cert.certPem },
    host: url.hostname,
    port: Number(url.port),
  });
  return { vault, ca, standInOutputs: JSON.stringify({ "tls:index/selfSignedCert:SelfSignedCert": { certPem: ca.certPem } }) };
}

/**
 * Dynamic-provider resources talk to servers (Ollama, PostgreSQL, Redis, Vault) that only exist on the real box: each
 * of their types is excluded, with what depends on them. Not by one glob over all dynamic resources: the first boot's
 * must run, since what runs on the VM's engine waits for it, and the engine creates an excluded resource's provider
 * anyway ("snapshot integrity failure: … refers to missing dependency").
 */
function dynamicExcludes(stack: string, plan: PlanResult): string[] {
  const types = [
    ...new Set(plan.resources.map((r) => r.type).filter((t) => t.startsWith("pulumi-nodejs:dynamic") && t !== FIRST_BOOT && !t.startsWith(VAULT_TYPES))),
  ].sort();
  return [...types.flatMap((t) => ["--exclude", `urn:pulumi:${stack}::${PROJECT}::**${t}::*`]), "--exclude-dependents"];
}

function initStack(ws: Workspace, stack: string, secretsOf: Stack): void {
  ws.must(["stack", "init", `organization/${PROJECT}/${stack}`, "--secrets-provider", "passphrase"]);
  for (const [key, value] of Object.entries(dummySecrets(secretsOf))) ws.must(["config", "set", "--stack", stack, "--secret", `${PROJECT}:${key}`], value);
}

/** The plugin version an npm SDK asks the engine for: its package.json "pulumi.version" (else its own version). */
function sdkPluginVersion(pkg: string): string {
  const p = JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string; pulumi?: { version?: string } };
  return (p.pulumi?.version ?? p.version).replace(/^v/, "");
}

/**
 * The program's StorageMirror and Backups (test/engine/storage-program) under the real plugin against the Proxmox API
 * stand-in on loopback: `up` creates them through the provider's own Create (and its id computation), then
 * `preview --refresh --expect-no-changes` reads each back and finds nothing to change.
 */
async function storagesForReal(bin: string, plugin: string, version: string, idFields: Record<string, string>): Promise<void> {
  const ca = makeTestCa("Proxmox API stand-in CA");
  const api = await startFakeProxmox(ca, {});
  const ws = new Workspace(ROOT, bin, "test/engine/storage-program", { proxmoxve: { version, binary: plugin } });
  try {
    ws.must(["stack", "init", "organization/ai-dualstack-storage/storage", "--secrets-provider", "passphrase"]);
    ws.must(["config", "set", "--stack", "storage", "endpoint", api.url]);
    ws.must(["config", "set", "--stack", "storage", "--secret", "apiToken", api.token]);
    ws.must(["config", "set", "--stack", "storage", "--secret", "pbsPassword", "pbs-token-secret-for-the-stand-in"]);
    const up = await ws.pulumiAsync(["up", "--stack", "storage", "--yes", "--skip-preview"]);
    check(up.code === 0, `up of the storages and backup jobs with the real proxmoxve plugin exited ${up.code}`, up.out);
    check(!/panic/i.test(up.out), "the proxmoxve plugin panicked creating the storages or backup jobs", up.out);
    const expected = { storages: ["files-private", "pbs", "tank-private"], jobs: ["ai-dualstack-private"] };
    const made = { storages: [...api.storages.keys()].sort(), jobs: [...api.backupJobs.keys()].sort() };
    check(JSON.stringify(made) === JSON.stringify(expected), `the API stand-in holds ${JSON.stringify(made)}, expected ${JSON.stringify(expected)}`, up.out);
    check(api.storages.get("files-private")?.shared === "0", `the files directory was created shared (${JSON.stringify(api.storages.get("files-private"))})`);
    const state = JSON.parse((await ws.pulumiAsync(["stack", "export", "--stack", "storage"])).out) as {
      deployment: { resources: { type: string; id?: string; inputs?: { resourceId?: string } }[] };
    };
    const badIds = state.deployment.resources.filter((r) => idFields[r.type] && r.id !== r.inputs?.resourceId).map((r) => `${r.type} ${r.id}`);
    check(badIds.length === 0, `resources whose id is not their resourceId: ${badIds.join(", ")}`);
    const again = await ws.pulumiAsync(["preview", "--stack", "storage", "--refresh", "--expect-no-changes", "--diff"]);
    check(again.code === 0, "the storages and backup jobs read back differ from the program (a perpetual diff)", again.out);
    log(
      `storages and backup jobs: ${made.storages.length} storages and ${made.jobs.length} job created by the real plugin through the API stand-in (${api.log.filter((l) => !l.startsWith("GET")).length} writes), read back without a change`,
    );
  } finally {
    await api.close();
    ca.remove();
    if (!process.env.KEEP_ENGINE_WORKSPACE) ws.remove();
  }
}

/** Outside the namespace: builds what needs the module proxy, then runs the test in a network namespace of its own. */
function enterNamespace(): number {
  const toolchain = built("pulumi-toolchain.sh");
  const plugin = join(built("proxmoxve-plugin.sh"), "pulumi-resource-proxmoxve");
  const asRoot = process.getuid?.() === 0;
  const r = spawnSync(
    tool("unshare"),
    [
      ...(asRoot ? ["--net"] : ["--net", "--map-root-user"]),
      "--",
      "sh",
      "-c",
      'ip="$1"; shift; "$ip" link set lo up && exec "$@"',
      "sh",
      tool("ip"),
      process.execPath,
      ...process.execArgv,
      process.argv[1],
    ],
    { stdio: "inherit", env: { ...process.env, AI_DUALSTACK_ENGINE_NETNS: "1", AI_DUALSTACK_TOOLCHAIN: toolchain, AI_DUALSTACK_PROXMOXVE_PLUGIN: plugin } },
  );
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function main(): Promise<void> {
  const started = Date.now();
  const bin = process.env.AI_DUALSTACK_TOOLCHAIN!;
  const plugin = process.env.AI_DUALSTACK_PROXMOXVE_PLUGIN!;
  const proxmoxve = sdkPluginVersion("@muhlba91/pulumi-proxmoxve");
  const ws = new Workspace(ROOT, bin, ".", { proxmoxve: { version: proxmoxve, binary: plugin } });
  log(`workspace ${ws.dir}; ${ws.must(["version"]).trim()}; no network but loopback`);
  const bpg = execFileSync(plugin, ["-version"], { encoding: "utf8" }).trim();
  const standIns = Object.entries(STANDIN_PACKAGES).filter(([name]) => !(name in ws.realPlugins));
  log(
    `plugins: proxmoxve ${proxmoxve} real (${plugin}, -version ${bpg}); stand-ins: ${standIns.map(([name, pkg]) => `${name} ${sdkPluginVersion(pkg)}`).join(", ")}`,
  );
  try {
    // One at a time: the offline engine's mocks are process-wide.
    const plans = {} as Record<Stack, PlanResult>;
    // With the secrets the engine's stacks get (initStack), so that both plan the same program.
    for (const stack of STACKS) plans[stack] = await evaluateStack(stack, { secrets: dummySecrets(stack), ...(stack === "host" ? {} : { host: plans.host }) });
    const examples: PlanResult[] = [];
    for (const stack of STACKS) examples.push(await evaluateStack(stack, { configFile: join(ROOT, "examples/catalog", `Pulumi.${stack}.yaml`) }));

    // 1. The plugin knows every type and input the program emits.
    const schema = JSON.parse(ws.must(["package", "get-schema", plugin]));
    const coverage = checkPluginCoverage(schema, [...Object.values(plans), ...examples]);
    const idFields = idFieldsOf(schema);
    check(
      Object.keys(idFields).length === 4,
      `the plugin's schema has ${Object.keys(idFields).length} resources with a resourceId, expected the 4 storage and backup-job types`,
    );
    check(coverage.problems.length === 0, `the proxmoxve plugin does not know what the program sends it:\n${coverage.problems.join("\n")}`);
    log(
      `plugin coverage: ${coverage.types.size} proxmoxve types, ${coverage.inputs} top-level inputs in the shipped and example plans, every property in the plugin's schema`,
    );

    // 2. The stacks, and the host's outputs.
    for (const stack of STACKS) initStack(ws, stack, stack);
    const host = hostStateFrom(JSON.parse(ws.must(["stack", "export", "--stack", "host"])), plans.host, PROJECT);
    writeFileSync(ws.file("host-state.json"), JSON.stringify(host.deployment));
    ws.must(["stack", "import", "--stack", "host", "--file", "host-state.json"]);
    log(`host state imported from the offline engine (outputs known only after a real apply, left out: ${host.unknown.join(", ") || "none"})`);

    // 3. Previews with the real provider logic; what the engine sent the plugin, from its gRPC log.
    const exchanges = {} as Record<Stack, ReturnType<typeof exchangesOf>>;
    for (const stack of STACKS) {
      const grpc = ws.file(`grpc-${stack}.json`);
      const r = ws.pulumi(["preview", "--stack", stack, "--policy-pack", "policies"], undefined, { PULUMI_DEBUG_GRPC: grpc });
      const s = readPreview(r.out);
      log(`preview ${stack}: ${describePreview(s)}`);
      check(r.code === 0, `preview ${stack} exited ${r.code}`, r.out);
      check(
        s.verdicts.every((v) => v.level === "advisory"),
        `preview ${stack}: mandatory policy violations`,
        r.out,
      );
      check(!r.out.includes("can't run policy"), `preview ${stack}: a policy could not run during preview`, r.out);
      // The host's root stack exists already (imported).
      const expected = expectedCreates(plans[stack]) - (stack === "host" ? 1 : 0);
      check(s.counts.create === expected, `preview ${stack}: ${s.counts.create} to create, the offline engine plans ${expected}`, r.out);
      exchanges[stack] = exchangesOf(grpc, "proxmoxve");
      // By type and name: the mocks' URNs name only the direct parent's type, the engine's the whole parent chain.
      const sentBy = new Map([...exchanges[stack]].map(([urn, x]) => [typeAndName(urn), x]));
      const offline = plans[stack].resources.filter((x) => x.custom && x.type.startsWith("proxmoxve:"));
      const differ: string[] = [];
      for (const x of offline) {
        const sent = sentBy.get(typeAndName(x.urn));
        if (!sent) differ.push(`${x.urn}: never sent to the plugin`);
        else for (const d of differences(x.inputs, knownPart(sent.news))) differ.push(`${typeAndName(x.urn)}: ${d}`);
      }
      check(differ.length === 0, `preview ${stack}: the offline plan's inputs differ from what the engine sent the proxmoxve plugin:\n${differ.join("\n")}`);
      log(`preview ${stack}: ${offline.length} proxmoxve resources checked by the real plugin, their inputs as the offline plan has them`);
    }

    // 4. A privileged LXC in the private environment: expressible in config, refused by lxc-unprivileged.
    const doc = parseYaml(readFileSync(ws.file("Pulumi.private.yaml"), "utf8"));
    doc.config[`${PROJECT}:containers`].postgres.privileged = true;
    writeFileSync(ws.file("Pulumi.violation.yaml"), stringifyYaml(doc));
    initStack(ws, "violation", "private");
    const bad = ws.pulumi(["preview", "--stack", "violation", "--policy-pack", "policies"]);
    const badSummary = readPreview(bad.out);
    log(`preview violation (private + privileged postgres LXC): exit ${bad.code}; ${describePreview(badSummary)}`);
    check(bad.code !== 0, "the violating preview was not stopped", bad.out);
    check(
      badSummary.verdicts.some((v) => v.level === "mandatory" && v.policy === "lxc-unprivileged"),
      "the violating preview does not name lxc-unprivileged",
      bad.out,
    );

    // The GPU VMs' SSH, for their first boots (the only dynamic resources the up runs).
    const vms = (["private", "public"] as const).map((s) => ipOf(String((plans[s].outputs.gpuVm?.value as { address: string }).address)));
    const firstBoots = await startFirstBootStandIn(vms);
    log(`first boot: the VMs' SSH stood in for on ${vms.join(", ")} (answers the check with "ready")`);

    const vaultStandIn = await startVaultStandIn(plans.host);
    ws.env.AI_DUALSTACK_STANDIN_OUTPUTS = vaultStandIn.standInOutputs;
    log(`Vault: the API stand-in on ${vaultStandIn.vault.url} (TLS from a test CA, given as every self-signed certificate)`);

    // 5. State, then a preview with the real plugin that must change nothing. Without the policy pack: it judged these
    // programs above, and it would see the excluded resources without inputs.
    for (const stack of STACKS) {
      const excludes = dynamicExcludes(stack, plans[stack]);
      ws.standIn("proxmoxve", true);
      // Asynchronously: the VMs' SSH stand-in answers from this process while the engine runs.
      const up = await ws.pulumiAsync(["up", "--stack", stack, "--yes", "--skip-preview", ...excludes]);
      check(up.code === 0, `up ${stack} exited ${up.code}`, up.out);
      // Asynchronously too: the Vault stand-in answers the refresh's reads from this process.
      const refresh = await ws.pulumiAsync(["refresh", "--stack", stack, "--yes", "--skip-preview"]);
      check(refresh.code === 0, `refresh ${stack} exited ${refresh.code}`, refresh.out);
      const state = JSON.parse(ws.must(["stack", "export", "--stack", stack, "--show-secrets"]));
      // The offline plan names each resource by the URN the engine gives it (what the drill unprotects by).
      const planned = new Set(plans[stack].resources.map((r) => r.urn));
      const unplanned = (state.deployment.resources as { urn: string; type: string }[])
        .filter((r) => !r.type.startsWith("pulumi:providers:") && !planned.has(r.urn))
        .map((r) => r.urn);
      check(unplanned.length === 0, `${stack}: the engine's state has URNs the offline plan does not give: ${unplanned.slice(0, 3).join(", ")}`);
      const rewritten = applyRealState(state, "proxmoxve", exchanges[stack], schema, idFields);
      writeFileSync(ws.file(`state-${stack}.json`), JSON.stringify(state));
      ws.must(["stack", "import", "--stack", stack, "--file", `state-${stack}.json`]);
      ws.standIn("proxmoxve", false);
      const again = await ws.pulumiAsync(["preview", "--stack", stack, "--expect-no-changes", "--diff", ...excludes]);
      log(
        `up, refresh, preview ${stack}: up ${describePreview(readPreview(up.out))}; ${rewritten.length} proxmoxve resources given the real plugin's state; then ${describePreview(readPreview(again.out))}`,
      );
      check(again.code === 0, `preview ${stack} with the real proxmoxve plugin after up proposes changes (a perpetual diff)`, again.out);

      // 6. Secrets.
      const exported = ws.must(["stack", "export", "--stack", stack]);
      // Every generated password and key (new values at each create, as the real random provider's): encrypted
      // wherever it went (the password, the kept secret, the envs).
      const generated = generatedSecretValues(state);
      check(generated.length > 0, `the ${stack} state holds no generated secret: the check below would prove nothing`);
      check(!generated.some((v) => exported.includes(v)), `the ${stack} state holds a generated secret in plain text`);
      for (const needle of secretNeedles(Object.values(dummySecrets(stack))))
        check(!exported.includes(needle), `the ${stack} state holds a secret in plain text`);

      // 6b. The rebuild drill's release of its compute, through the Automation API on this state: the GPU VM, by
      // the URN the drill reads off the offline plan, loses its protect flag; its data disk's holder and the data
      // containers keep theirs. Then protected again, as the rebuild's up would.
      const compute = computeOf(drillPlan(plans[stack]));
      if (compute.length) {
        Object.assign(process.env, ws.env);
        const released = await automationWorkspace(ws.programDir).unprotect(
          stack,
          compute.map((g) => g.urn),
        );
        check(
          JSON.stringify(released) === JSON.stringify(compute.map((g) => g.urn)),
          `drill ${stack}: unprotect released ${JSON.stringify(released)}, expected the GPU VM by the offline plan's URN`,
        );
        const after = JSON.parse(ws.must(["stack", "export", "--stack", stack])) as { deployment: { resources: { urn: string; protect?: boolean }[] } };
        const stillProtected = drillPlan(plans[stack])
          .guests.filter((g) => g.dataHolder === undefined)
          .every((g) => after.deployment.resources.find((r) => r.urn === g.urn)?.protect === true);
        check(stillProtected, `drill ${stack}: a guest other than the GPU VM lost its protection`);
        check(!after.deployment.resources.find((r) => r.urn === compute[0].urn)?.protect, `drill ${stack}: the GPU VM is still protected in the state`);
        for (const g of compute) ws.must(["state", "protect", "--stack", stack, "--yes", g.urn]);
        log(
          `drill ${stack}: ${compute.map((g) => g.name).join(", ")} unprotected by its plan URN through the Automation API; the holder and containers kept theirs`,
        );
      }
    }
    // 7. The storages and backup jobs for real: created, read back and compared by the real plugin, against the
    // Proxmox API stand-in (upstream's published plugin panics in their Create, muhlba91/pulumi-proxmoxve#967).
    log(`first boot: ${firstBoots.answered()} checks answered; every FirstBoot created by the real provider under the engine`);
    check(firstBoots.answered() >= 2, "the FirstBoot resources never asked the VMs' SSH");
    await firstBoots.close();
    const kept = [...vaultStandIn.vault.secrets.keys()].filter((k) => k.includes("/kept/"));
    log(`Vault: ${vaultStandIn.vault.log.length} requests; ${kept.length} kept secrets written (${[...new Set(kept.map((k) => k.split("/")[0]))].join(", ")})`);
    check(kept.some((k) => k.startsWith("kv-platform/")) && kept.some((k) => k.startsWith("kv-public/")), "the kept secrets never reached Vault");
    await vaultStandIn.vault.close();
    vaultStandIn.ca.remove();
    await storagesForReal(bin, plugin, proxmoxve, idFields);
    log(`test:engine passed in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    if (process.env.KEEP_ENGINE_WORKSPACE) log(`kept ${ws.dir}`);
    else ws.remove();
  }
}

(process.env.AI_DUALSTACK_ENGINE_NETNS ? main() : Promise.resolve().then(() => process.exit(enterNamespace()))).catch((err) => {
  process.stderr.write(`${err instanceof CheckFailed ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
