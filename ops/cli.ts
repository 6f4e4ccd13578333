// The operator CLI, `dualstack`. Exit codes (DESIGN.md §4): 0 ok, 1 policy violation or failed check,
// 2 invalid input (config, arguments), 3 drift.
import { Command, CommanderError } from "commander";
import { CatalogError, lookupGpu, lookupModel, mergeCatalog } from "../lib/capacity/catalog";
import { KV_BYTES_PER_ELEMENT, estimateModel, type KvCacheType } from "../lib/capacity/planner";
import { renderCapacityTable, type CapacityReport } from "../lib/capacity/report";
import { ConfigError, loadConfig } from "../lib/config/load";
import { renderComposeFile } from "../lib/compose/compose-file";
import { environmentCatalog, environmentStack, platformStack } from "../lib/compose/services";
import { renderDiagram } from "./diagram";
import { StackFileError, evaluateStack, readStackFile, roleOf } from "./engine";
import { planJson, renderCounts, renderTree } from "./plan-view";
import { PolicyConfigError, checkPolicyConfig, hasMandatory, renderViolations, runPolicies } from "./policy-runner";
import { buildPolicies } from "../policies/all";
import { renderCatalogTable, type EntryPlan } from "../lib/catalog/resolve";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { boxReport, renderBox, type BoxReport } from "../lib/capacity/box";
import { stackImages, type ImageRow } from "../lib/images";
import { checkImage, renderImages, type ImageCheck } from "./images";
import type { StackSpec } from "../lib/compose/spec";
import type { GuestEnvironment } from "../lib/tags";
import { benchModels, renderBench, type BenchClient } from "./bench";
import { detectDrift, renderDrift } from "./drift";
import { drillPlan, renderDrillReport, renderDrillSteps, runDrill, type DrillDeps, type DrillJournalStore } from "./drill";
import { PulumiCommandError, automationWorkspace, type StackWorkspace } from "./workspace";
import { RotationFailed, RotationRefused, keptSecrets, renderKeptSecrets, rotate, rotationTarget, type RotateDeps } from "./rotate";
import { liveDrillDeps, liveResticReader, liveScratchGuests, takeInventory, type LiveDrillOptions, type VerifyTargets } from "./drill-live";
import { renderRestoreDrillReport, runRestoreDrill, type ResticReader, type ScratchGuests } from "./drill-restore";
import { DrillJournalError, drillStateDir, fileJournal } from "./drill-journal";
import { ProxmoxApi, ProxmoxApiError, TOKEN_FORM } from "./proxmox-api";
import { tlsFetch } from "./tls-fetch";
import { version as VERSION } from "../package.json";
import { PrerequisiteError } from "./prerequisites";
import { renderDoctor, runDoctor, type Exec } from "./doctor";
import { ENVIRONMENTS, type EnvironmentConfig, type EnvironmentName, type HostConfig } from "../lib/config/schema";
import { ipOf } from "../lib/net";
import { DEFAULT_THRESHOLDS, EXPORTER_PORTS } from "../lib/monitoring/prometheus";

/** What the commands that act on real stacks use; tests give scripted ones. */
export interface Deps {
  workspace?: StackWorkspace;
  drill?: Omit<DrillDeps, "workspace" | "log" | "journal">;
  /** The Ollama client for `bench`, given its URL. */
  ollama?: (url: string) => BenchClient;
  /** How `doctor` runs programs (pulumi version, plugin ls, whoami). */
  exec?: Exec;
  /** Tests: the new value `rotate` writes. */
  rotateValue?: string;
  /** Where `drill` records a drill that stopped after its destroy (a file under the state directory otherwise). */
  drillJournal?: DrillJournalStore;
  /** The restore drill's Proxmox side (the live one through the API otherwise). */
  scratchGuests?: ScratchGuests;
  resticReader?: ResticReader;
}

/** A file an option names; one it cannot read is an argument error naming the option. */
function readArgFile(option: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ArgumentError(`${option}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new PolicyConfigError(`${file}: ${(err as Error).message}`);
  }
}

export const EXIT = { ok: 0, failed: 1, invalidInput: 2, drift: 3 } as const;

/** A bad command-line argument: `error: …`, exit 2 (the config's problems are ConfigError's "invalid configuration"). */
export class ArgumentError extends Error {
  override name = "ArgumentError";
}

interface CapacityOptions {
  json?: boolean;
  config?: string;
  model?: string;
  gpu?: string;
  ctx: string;
  parallel: string;
  kv: string;
}

function wholeArg(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ArgumentError(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** The whole box: the host config (the committed one, or `hostFile`) and the environments' files beside it. */
function boxOf(hostFile = join(__dirname, "..", "Pulumi.host.yaml")): { box: BoxReport; host: HostConfig } {
  const host = loadConfig(readStackFile(hostFile), { offline: true });
  if (host.role !== "host") throw new ArgumentError(`--config: without a stack, expected the host stack's config (role: host), got role ${host.role}`);
  const envs: Partial<Record<EnvironmentName, EnvironmentConfig>> = {};
  const unusable: Partial<Record<EnvironmentName, string>> = {};
  for (const env of ENVIRONMENTS) {
    const file = join(dirname(hostFile), `Pulumi.${env}.yaml`);
    if (!existsSync(file)) continue;
    try {
      const loaded = loadConfig(readStackFile(file), { offline: true });
      if (loaded.role !== env) throw new ConfigError([`${file}: expected role ${env}, got role ${loaded.role}`]);
      envs[env] = loaded.config;
    } catch (err) {
      // The box is still shown; the environment's own problems are its stack's to report.
      if (!(err instanceof ConfigError)) throw err;
      unusable[env] = `${file} is not a valid ${env} stack config (${err.problems.length} problem(s): \`dualstack plan ${env}\` lists them)`;
    }
  }
  return { box: boxReport(host.config, envs, unusable), host: host.config };
}

function boxCapacity(opts: CapacityOptions, io: Io): number {
  const { box, host } = boxOf(opts.config);
  io.out(opts.json ? `${JSON.stringify(box, null, 2)}\n` : `${renderBox(box, host)}\n`);
  return box.fits ? EXIT.ok : EXIT.failed;
}

function adHocCapacity(opts: CapacityOptions, io: Io): number {
  if (!opts.model && !opts.gpu) return boxCapacity(opts, io);
  if (!opts.model || !opts.gpu)
    throw new ArgumentError("capacity: give a stack (private, public), both --model and --gpu for an ad-hoc answer, or neither for the whole box");
  if (!(opts.kv in KV_BYTES_PER_ELEMENT)) throw new ArgumentError(`--kv: expected one of f16, q8_0, q4_0, got ${JSON.stringify(opts.kv)}`);
  const catalog = mergeCatalog();
  let gpu, model;
  try {
    gpu = lookupGpu(catalog, opts.gpu);
    model = lookupModel(catalog, opts.model);
  } catch (err) {
    if (err instanceof CatalogError) throw new ArgumentError(err.message);
    throw err;
  }
  const shape = {
    context: wholeArg("ctx", opts.ctx, 1, 10_485_760),
    parallel: wholeArg("parallel", opts.parallel, 1, 256),
    kvCacheType: opts.kv as KvCacheType,
  };
  const e = estimateModel(model, gpu, shape);
  const result = {
    model: opts.model,
    gpu: opts.gpu,
    ...shape,
    weightsBytes: e.weightsBytes,
    kvBytes: e.kvBytes,
    totalBytes: e.totalBytes,
    vramBytes: e.vramBytes,
    fits: e.fits,
    ceilingTokensPerSecond: e.ceilingTokensPerSecond,
  };
  if (opts.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
    io.out(
      `${opts.model} on ${opts.gpu} (${gpu.name}), ctx ${shape.context} × ${shape.parallel} slot(s), ${shape.kvCacheType} KV:\n` +
        `  weights ${gib(e.weightsBytes)} + KV ${gib(e.kvBytes)} + graph and reserve = ${gib(e.totalBytes)} of ${gib(e.vramBytes)}: ${e.fits ? "fits" : "DOES NOT FIT"}\n` +
        `  decode ceiling ${e.ceilingTokensPerSecond.toFixed(0)} tokens/s (bandwidth / weight bytes)\n`,
    );
  }
  return e.fits ? EXIT.ok : EXIT.failed;
}

async function stackCapacity(stack: string, opts: CapacityOptions, io: Io): Promise<number> {
  if (!STACK_NAME.test(stack)) throw new ArgumentError(`stack: expected a stack name such as "private" or "public", got ${JSON.stringify(stack)}`);
  const plan = await evaluateStack(stack, { configFile: opts.config });
  const report = plan.outputs.capacity?.value as CapacityReport | undefined;
  if (!report) {
    io.out(opts.json ? `${JSON.stringify({ stack, models: [] }, null, 2)}\n` : `stack ${stack} (role ${plan.role}) deploys no models\n`);
    return EXIT.ok;
  }
  io.out(opts.json ? `${JSON.stringify({ stack, ...report }, null, 2)}\n` : `${renderCapacityTable(report)}\n`);
  return report.fits ? EXIT.ok : EXIT.failed;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Asks the operator at a terminal; absent when there is none (a pipe, CI): then nothing may ask. */
  ask?: (question: string) => Promise<string>;
}

/** The process's own streams; `ask` only when both stdin and stderr are a terminal. */
function processIo(): Io {
  const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
  if (process.stdin.isTTY && process.stderr.isTTY) {
    io.ask = async (question) => {
      const { createInterface } = await import("node:readline/promises");
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    };
  }
  return io;
}

const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

/** The ollama client; over https its certificate is verified against `ca` (the environment CA). */
async function ollamaClient(url: string, ca?: string): Promise<BenchClient> {
  const { Ollama } = await import("ollama");
  if (!ca || !url.startsWith("https:")) return new Ollama({ host: url });
  return new Ollama({ host: url, fetch: tlsFetch({ ca }) });
}
const CONFIG_OPTION = ["--config <file>", "a stack config file in the Pulumi.<stack>.yaml format instead of the committed one"] as const;
const LIVE_OPTIONS = [
  ["--host-config <file>", "the host stack's config file (PBS storage, monitoring) instead of the committed one"],
  ["--proxmox-ca <file>", "the CA certificate of the Proxmox API (/etc/pve/pve-root-ca.pem); the system's roots by default"],
  ["--prometheus <url>", "Prometheus (default: the monitoring container's, from the host config)"],
] as const;

/** How long a restored VM's guest agent may take to answer: both drills start what they restore. */
const AGENT_WAIT_OPTION = ["--agent-wait <seconds>", "how long a restored VM's guest agent may take to answer after its start", "600"] as const;

function agentWaitSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1) throw new ArgumentError(`--agent-wait: expected a whole number of seconds, got ${JSON.stringify(value)}`);
  return seconds;
}

interface LiveOptions {
  config?: string;
  hostConfig?: string;
  proxmoxCa?: string;
  prometheus?: string;
}

/** A stack's compose project (the host's: its cicd project, when Gitea is on) and the environment it runs in. */
function stackSpecOf(stack: string, configFile: string | undefined): { spec: StackSpec; env: GuestEnvironment } | undefined {
  const loaded = loadConfig(readStackFile(configFile ?? join(__dirname, "..", `Pulumi.${stack}.yaml`)), { offline: true });
  if (loaded.role === "host") {
    const platform = platformStack(loaded.config);
    return platform ? { spec: platform.spec, env: "platform" } : undefined;
  }
  const c = loaded.config;
  return { spec: environmentStack(c, stack, environmentCatalog(c, stack)), env: c.role };
}

/** `dualstack compose`: the stack's compose project as a Compose file. */
function composeFileOf(stack: string, configFile: string | undefined): string {
  const s = stackSpecOf(stack, configFile);
  if (!s) throw new ArgumentError(`stack: the host stack ${stack} runs no compose project (ai-dualstack:services.gitea is not enabled)`);
  return renderComposeFile(s.spec, { env: s.env, stack });
}

interface ImagesOptions {
  json?: boolean;
  check?: boolean;
  registryMirror?: string;
  config?: string;
}

/** `dualstack images`: every image the stack would run; with --check, whether each tag resolves. */
async function stackImagesOf(stack: string, opts: ImagesOptions, io: Io): Promise<number> {
  if (opts.registryMirror !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(opts.registryMirror)) {
    throw new ArgumentError(
      `--registry-mirror: expected a registry's base URL such as "https://mirror.example.org", got ${JSON.stringify(opts.registryMirror)}`,
    );
  }
  const spec = stackSpecOf(stack, opts.config)?.spec;
  const rows: (ImageRow & { check?: ImageCheck })[] = spec ? stackImages(spec) : [];
  if (opts.check) {
    // A few at a time: registries rate-limit anonymous clients.
    for (let i = 0; i < rows.length; i += 4) {
      await Promise.all(rows.slice(i, i + 4).map(async (r) => (r.check = await checkImage(r, { mirror: opts.registryMirror }))));
    }
  }
  io.out(opts.json ? `${JSON.stringify({ stack, images: rows }, null, 2)}\n` : rows.length ? `${renderImages(rows)}\n` : `stack ${stack} runs no images\n`);
  return rows.every((r) => !r.check || r.check.status === "found") ? EXIT.ok : EXIT.failed;
}

/** The environment's and the host's config, for the commands that act on the real Proxmox. */
function liveConfig(stack: string, opts: LiveOptions): { env: EnvironmentConfig; host: HostConfig } {
  const projectDir = join(__dirname, "..");
  const env = loadConfig(readStackFile(opts.config ?? join(projectDir, `Pulumi.${stack}.yaml`)), { offline: true });
  if (env.role === "host") throw new ArgumentError(`stack: ${stack} is the host stack; give an environment stack (private, public)`);
  const hostStack = env.config.hostStack.split("/").at(-1)!;
  const host = loadConfig(readStackFile(opts.hostConfig ?? join(projectDir, `Pulumi.${hostStack}.yaml`)), { offline: true });
  if (host.role !== "host") throw new ConfigError([`--host-config: expected the host stack's config (role: host), got role ${host.role}`]);
  return { env: env.config, host: host.config };
}

/** The Proxmox API with the operator's token (DUALSTACK_PROXMOX_TOKEN): never from a file in the repository. */
function proxmoxApi(env: EnvironmentConfig, opts: LiveOptions): ProxmoxApi {
  const token = process.env.DUALSTACK_PROXMOX_TOKEN;
  if (!token || !TOKEN_FORM.test(token)) {
    throw new PrerequisiteError(
      `DUALSTACK_PROXMOX_TOKEN: expected an API token (user@realm!name=secret) that may back up and restore the stack's guests, got ${token ? "something else (not shown)" : "nothing"}`,
    );
  }
  return new ProxmoxApi({
    endpoint: env.proxmox.endpoint,
    token,
    insecure: env.proxmox.insecure,
    caCert: opts.proxmoxCa ? readArgFile("--proxmox-ca", opts.proxmoxCa) : undefined,
  });
}

export async function main(argv: string[], io: Io = processIo(), deps: Deps = {}): Promise<number> {
  const workspace = () => deps.workspace ?? automationWorkspace(join(__dirname, ".."));
  const checkStack = (stack: string) => {
    if (!STACK_NAME.test(stack)) throw new ArgumentError(`stack: expected a stack name such as "host", "private" or "public", got ${JSON.stringify(stack)}`);
  };
  let code: number = EXIT.ok;
  const program = new Command("dualstack")
    .description("Operate ai-dualstack: one Proxmox VE host, two isolated AI environments")
    .version(VERSION, "-V, --version", "print the version of ai-dualstack")
    .option("--debug", "on an internal error, print where it happened (the stack trace)")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command("plan")
    .description("show what a stack would create, offline (no Proxmox, no Pulumi CLI)")
    .argument("<stack>", "host, private or public (reads Pulumi.<stack>.yaml)")
    .option("--json", "print {stack, resources:[{urn,type,name,parent,inputs}]} with secrets redacted")
    .option("--diagram", "print a mermaid flowchart of the stack's topology")
    .option(...CONFIG_OPTION)
    .action(async (stack: string, opts: { json?: boolean; diagram?: boolean; config?: string }) => {
      checkStack(stack);
      const plan = await evaluateStack(stack, { configFile: opts.config });
      if (opts.json) {
        io.out(`${JSON.stringify({ ...planJson(plan), ...(opts.diagram ? { diagram: renderDiagram(plan) } : {}) }, null, 2)}\n`);
      } else if (opts.diagram) {
        io.out(`${renderDiagram(plan)}\n`);
      } else {
        const report = plan.outputs.capacity?.value as CapacityReport | undefined;
        const whole = plan.role === "host" ? boxOf(opts.config) : undefined;
        const capacity = report ? renderCapacityTable(report) : whole ? renderBox(whole.box, whole.host) : undefined;
        const policies = buildPolicies();
        const verdicts = renderViolations(await runPolicies(plan, policies), policies.length);
        const catalog = plan.outputs.catalog?.value as (Parameters<typeof renderCatalogTable>[1] & { entries: EntryPlan[] }) | undefined;
        const catalogText = catalog && catalog.entries.length > 0 ? `\nService catalog:\n${renderCatalogTable(catalog.entries, catalog)}\n` : "";
        io.out(
          `${renderTree(plan)}\n\n${renderCounts(plan)}\n${capacity ? `\nCapacity${whole ? " (the whole box)" : ""}:\n${capacity}\n` : ""}${catalogText}\nPolicies:\n${verdicts}\n`,
        );
      }
    });

  program
    .command("compose")
    .description("print a stack's services as a Compose file, as ComposeStack runs them (secrets as ${VARIABLES})")
    .argument("<stack>", "private or public, or host for its cicd project (reads Pulumi.<stack>.yaml)")
    .option(...CONFIG_OPTION)
    .action((stack: string, opts: { config?: string }) => {
      checkStack(stack);
      io.out(composeFileOf(stack, opts.config));
    });

  program
    .command("images")
    .description(
      "every image the stack would run (services, and the base images of those built here), with its registry; --check asks each registry whether the tag resolves, exit 1 if one does not",
    )
    .argument("<stack>", "host, private or public (reads Pulumi.<stack>.yaml)")
    .option("--json", "print {stack, images:[{ref, registry, repository, tag, usedBy, check?}]}")
    .option("--check", "ask each image's registry (needs the network) whether its tag resolves")
    .option("--registry-mirror <url>", "ask this registry instead (Docker Hub's images under their own path, the others under <registry>/<path>)")
    .option(...CONFIG_OPTION)
    .action(async (stack: string, opts: ImagesOptions) => {
      checkStack(stack);
      code = await stackImagesOf(stack, opts, io);
    });

  program
    .command("capacity")
    .description(
      "VRAM fit and decode tokens/s ceiling of every model deployment, or without a stack the whole box (RAM per node and environment, VRAM per GPU); exit 1 if something does not fit",
    )
    .argument(
      "[stack]",
      "private or public (reads Pulumi.<stack>.yaml); none: the whole box (Pulumi.host.yaml, or --config, and the environments' files beside it)",
    )
    .option("--json", "print the report as JSON")
    .option(...CONFIG_OPTION)
    .option("--model <name>", "ad hoc: a catalog model, e.g. qwen2.5:14b")
    .option("--gpu <id>", "ad hoc: a catalog GPU, e.g. rtx-3060-12gb")
    .option("--ctx <tokens>", "ad hoc: context length", "8192")
    .option("--parallel <slots>", "ad hoc: parallel slots", "1")
    .option("--kv <type>", "ad hoc: KV cache type f16, q8_0 or q4_0", "f16")
    .action(async (stack: string | undefined, opts: CapacityOptions) => {
      code = stack === undefined ? adHocCapacity(opts, io) : await stackCapacity(stack, opts, io);
    });

  program
    .command("policy")
    .description("run every policy of the pack against a stack; exit 1 on a mandatory violation")
    .argument("<stack>", "host, private or public (reads Pulumi.<stack>.yaml)")
    .option("--json", "print {stack, violations:[{policy, enforcement, urn, message}]}")
    .option(...CONFIG_OPTION)
    .option("--policy-config <file>", "enforcement levels, as for `pulumi preview --policy-pack-config`")
    .action(async (stack: string, opts: { json?: boolean; config?: string; policyConfig?: string }) => {
      checkStack(stack);
      const policies = buildPolicies();
      const policyConfig = opts.policyConfig ? checkPolicyConfig(readJson(opts.policyConfig), policies) : {};
      const plan = await evaluateStack(stack, { configFile: opts.config });
      const violations = await runPolicies(plan, policies, policyConfig);
      io.out(opts.json ? `${JSON.stringify({ stack, violations }, null, 2)}\n` : `${renderViolations(violations, policies.length)}\n`);
      code = hasMandatory(violations) ? EXIT.failed : EXIT.ok;
    });

  program
    .command("drift")
    .description("refresh in preview (nothing written) and report what differs from the state; exit 3 on drift")
    .argument("<stack>", "host, private or public")
    .option("--json", "print {stack, drifted, resources:[{urn, type, op, properties}]}")
    .action(async (stack: string, opts: { json?: boolean }) => {
      checkStack(stack);
      const report = await detectDrift(workspace(), stack);
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrift(report));
      code = report.drifted ? EXIT.drift : EXIT.ok;
    });

  /** Where the drills read the environment's inventory: its gateways, from the stack's outputs. */
  const verifyTargets = async (stack: string): Promise<VerifyTargets> => {
    const outputs = await workspace().outputs(stack);
    const gateways = (outputs.gateways ?? {}) as Record<string, string>;
    const caCert = typeof outputs.caCert === "string" ? outputs.caCert : undefined;
    const qdrantKey = gateways.qdrant ? await workspace().secretOutput(stack, "qdrantApiKey") : undefined;
    if (typeof outputs.ollamaUrl !== "string") throw new PrerequisiteError(`stack ${stack}: no ollamaUrl output; run pulumi up --stack ${stack} first`);
    return {
      ollamaUrl: outputs.ollamaUrl,
      caCert,
      services: gateways,
      ...(gateways.qdrant && qdrantKey ? { qdrant: { url: gateways.qdrant, apiKey: qdrantKey } } : {}),
      ...(gateways.chroma ? { chroma: { url: gateways.chroma } } : {}),
    };
  };

  const drillCommand = program
    .command("drill")
    .description("disaster-recovery drills: restore (each guest's latest backup into a scratch copy, nothing touched) and rebuild (destructive)");

  drillCommand
    .command("restore")
    .description("restore each guest's latest image backup into a scratch VMID in the drill pool, no network; boot, check, delete; RTO/RPO")
    .argument("<stack>", "private or public")
    .option("--json", "print the report as JSON")
    .option(...AGENT_WAIT_OPTION)
    .option(...CONFIG_OPTION)
    .option(...LIVE_OPTIONS[0])
    .option(...LIVE_OPTIONS[1])
    .action(async (stack: string, opts: { json?: boolean; agentWait: string } & LiveOptions) => {
      checkStack(stack);
      const agentWait = agentWaitSeconds(opts.agentWait);
      const plan = drillPlan(await evaluateStack(stack, { configFile: opts.config }));
      const { env, host } = liveConfig(stack, opts);
      const log = (line: string) => io.err(`${line}\n`);
      const space = host.backup.drill;
      // What a restored copy must hold is known before the Proxmox side is asked for anything.
      const targets = deps.drill?.verify ? undefined : await verifyTargets(stack);
      const verify = deps.drill?.verify ?? { inventory: () => takeInventory(targets!) };
      const api = deps.scratchGuests && deps.resticReader ? undefined : proxmoxApi(env, opts);
      const scratch =
        deps.scratchGuests ??
        liveScratchGuests({
          api: api!,
          backupStorage: host.backup.pbs.storageId,
          restoreStorage: (g) => g.datastore,
          space,
          agentWaitSeconds: agentWait,
          log,
        });
      const restic = deps.resticReader ?? liveResticReader(api!);
      const report = await runRestoreDrill(plan, space, {
        scratch,
        restic,
        inventory: (p) => verify.inventory(p),
        now: () => Math.floor(Date.now() / 1000),
        log,
      });
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderRestoreDrillReport(report));
      code = report.ok ? EXIT.ok : EXIT.failed;
    });

  drillCommand
    .command("rebuild")
    .description("destructive drill: fresh protected backups, destroy (data kept), rebuild, restore, verify, RTO/RPO")
    .argument("<stack>", "private or public")
    .option("--dry-run", "print the drill's steps for the stack; touch nothing")
    .option("--yes", "run without asking (needed where there is no terminal to ask at)")
    .option("--json", "print the report as JSON")
    .option("--restart", "forget the record of a drill that stopped after its destroy, and start over")
    .option(...AGENT_WAIT_OPTION)
    .option(...CONFIG_OPTION)
    .option(...LIVE_OPTIONS[0])
    .option(...LIVE_OPTIONS[1])
    .option(...LIVE_OPTIONS[2])
    .action(async (stack: string, opts: { dryRun?: boolean; yes?: boolean; json?: boolean; restart?: boolean; agentWait: string } & LiveOptions) => {
      checkStack(stack);
      const agentWait = agentWaitSeconds(opts.agentWait);
      const plan = drillPlan(await evaluateStack(stack, { configFile: opts.config }));
      const journal = deps.drillJournal ?? fileJournal(drillStateDir());
      if (opts.restart) journal.clear(stack);
      if (opts.dryRun) {
        io.out(opts.json ? `${JSON.stringify(plan, null, 2)}\n` : renderDrillSteps(plan));
        return;
      }
      if (!opts.yes) {
        // The drill destroys and rebuilds: the operator says so, by name, before anything is touched.
        if (!io.ask)
          throw new ArgumentError(
            `drill rebuild ${stack} destroys the stack's unprotected resources and rebuilds them: give --yes to run it without a terminal (nothing was touched)`,
          );
        io.err(renderDrillSteps(plan).replace(" (dry run: nothing is touched)", ""));
        const answer = (await io.ask(`This destroys and rebuilds stack ${stack}. Type its name to go on: `)).trim();
        if (answer !== stack) throw new ArgumentError(`drill rebuild: ${answer ? `"${answer}" is not ${stack}` : "no answer"}; nothing was touched`);
      }
      const log = (line: string) => io.err(`${line}\n`);
      const drill =
        deps.drill ??
        (await (async () => {
          const { env, host } = liveConfig(stack, opts);
          // What must come back is known before the Proxmox side is asked for anything.
          const verify = await verifyTargets(stack);
          const live: LiveDrillOptions = {
            api: proxmoxApi(env, opts),
            backupStorage: host.backup.pbs.storageId,
            restoreStorage: (g) => g.datastore,
            prometheusUrl: opts.prometheus ?? `http://${ipOf(host.platform.containers.monitoring.address)}:${EXPORTER_PORTS.prometheus}`,
            checkMaxAgeHours: DEFAULT_THRESHOLDS.checkMaxAgeHours,
            agentWaitSeconds: agentWait,
            verify,
            log,
          };
          return liveDrillDeps(live);
        })());
      const report = await runDrill(plan, { ...drill, journal, workspace: workspace(), log });
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrillReport(report));
      code = report.ok ? EXIT.ok : EXIT.failed;
    });

  program
    .command("rotate")
    .description(
      "a new value for one kept secret, written so that the data it guards stays readable; without a secret: the stack's kept secrets and how each is rotated",
    )
    .argument("<stack>", "host, private or public")
    .argument("[secret]", "the kept secret's name, as `rotate <stack>` lists it")
    .option("--yes", "run without asking (needed where there is no terminal to ask at)")
    .option("--json", "print the list as JSON")
    .option(...CONFIG_OPTION)
    .action(async (stack: string, secret: string | undefined, opts: { yes?: boolean; json?: boolean; config?: string }) => {
      checkStack(stack);
      // The stack as deployed with Vault set up: the host keeps its secrets only once its vaultToken is configured (the
      // value is not needed to know what it keeps, and is never read here).
      const plan = await evaluateStack(stack, {
        configFile: opts.config,
        ...(roleOf(readStackFile(opts.config ?? join(__dirname, "..", `Pulumi.${stack}.yaml`))) === "host" ? { secrets: { vaultToken: "(configured)" } } : {}),
      });
      if (secret === undefined) {
        const rows = keptSecrets(plan);
        io.out(
          opts.json
            ? `${JSON.stringify({ stack, kept: rows.map((r) => ({ secret: r.secret, ...r.entry, name: undefined })) }, null, 2)}\n`
            : renderKeptSecrets(stack, rows),
        );
        return;
      }
      const target = rotationTarget(stack, plan, secret);
      const token = process.env.VAULT_TOKEN;
      if (!token) throw new PrerequisiteError(`VAULT_TOKEN: expected an operator's Vault token that may write ${target.mount}/${target.path}, got nothing`);
      const address = process.env.VAULT_ADDR ?? target.address;
      const caCert = process.env.VAULT_CACERT ? readArgFile("VAULT_CACERT", process.env.VAULT_CACERT) : undefined;
      if (!opts.yes) {
        if (!io.ask) throw new ArgumentError(`rotate ${stack} ${secret} restarts what uses it: give --yes to run it without a terminal (nothing was touched)`);
        io.err(
          `${secret} guards ${target.entry.guards}.\nA new value goes to ${target.mount}/${target.path}; then pulumi up --refresh --stack ${stack} gives it to every consumer.\n`,
        );
        const answer = (await io.ask(`Type the secret's name to go on: `)).trim();
        if (answer !== secret) throw new ArgumentError(`rotate: ${answer ? `"${answer}" is not ${secret}` : "no answer"}; nothing was touched`);
      }
      const rotateDeps: RotateDeps = {
        vault: { address, token, ...(caCert ? { caCert } : {}) },
        upRefresh: (s, onProgress) => workspace().up(s, onProgress, { refresh: true }),
        log: (line) => io.err(`${line}\n`),
        ...(deps.rotateValue ? { value: deps.rotateValue } : {}),
      };
      const { version } = await rotate(stack, target, rotateDeps);
      io.out(`${secret}: rotated (version ${version} in ${target.mount}/${target.path}); every consumer has it\n`);
    });

  program
    .command("backup")
    .description("a protected backup of every guest of the stack to the PBS storage, now (pruning never removes it)")
    .argument("<stack>", "private or public")
    .option("--json", "print the backups as JSON")
    .option(...CONFIG_OPTION)
    .option(...LIVE_OPTIONS[0])
    .option(...LIVE_OPTIONS[1])
    .action(async (stack: string, opts: { json?: boolean } & LiveOptions) => {
      checkStack(stack);
      const plan = drillPlan(await evaluateStack(stack, { configFile: opts.config }));
      const { env, host } = liveConfig(stack, opts);
      const api = proxmoxApi(env, opts);
      const done: { vmId: number; name: string; volid: string }[] = [];
      for (const g of plan.guests) {
        io.err(`backing up ${g.name} (${g.vmId}) to ${host.backup.pbs.storageId}…\n`);
        try {
          const b = await api.protectedBackup(g.node, host.backup.pbs.storageId, g.vmId, `ai-dualstack on demand: ${g.name}`, (line) => io.err(`${line}\n`));
          done.push({ vmId: g.vmId, name: g.name, volid: b.volid });
        } catch (err) {
          if (!(err instanceof ProxmoxApiError)) throw err;
          io.err(`backup: ${g.name} (${g.vmId}): ${err.message}; ${done.length} of ${plan.guests.length} guest(s) backed up, nothing deleted\n`);
          code = EXIT.failed;
          break;
        }
      }
      io.out(
        opts.json
          ? `${JSON.stringify({ stack, storage: host.backup.pbs.storageId, backups: done }, null, 2)}\n`
          : done.map((b) => `${b.name} (${b.vmId}): ${b.volid} (protected)\n`).join(""),
      );
    });

  program
    .command("bench")
    .description("measured decode tokens/s of each deployed model through the Ollama API, next to the planner's ceiling")
    .argument("<stack>", "private or public")
    .option("--url <url>", "Ollama's API (default: the stack's output ollamaUrl)")
    .option("--ca <file>", "the CA certificate the gateway's certificate chains to (default: the stack's output caCert)")
    .option("--tokens <n>", "tokens to generate per run", "128")
    .option("--json", "print the rows as JSON")
    .option(...CONFIG_OPTION)
    .action(async (stack: string, opts: { url?: string; ca?: string; tokens: string; json?: boolean; config?: string }) => {
      checkStack(stack);
      const tokens = wholeArg("tokens", opts.tokens, 1, 4096);
      const capacity = (await evaluateStack(stack, { configFile: opts.config })).outputs.capacity?.value as CapacityReport | undefined;
      if (!capacity) throw new ArgumentError(`stack ${stack} deploys no models`);
      const outputs = opts.url && (opts.ca || opts.url.startsWith("http:")) ? {} : await workspace().outputs(stack);
      const url = opts.url ?? String(outputs.ollamaUrl ?? "");
      if (!/^https?:\/\/[^\s/]+$/.test(url))
        throw new ArgumentError(`--url: expected Ollama's URL such as "https://10.30.0.10:11434", got ${JSON.stringify(url)}`);
      const ca = opts.ca ? readArgFile("--ca", opts.ca) : typeof outputs.caCert === "string" ? outputs.caCert : undefined;
      const client = deps.ollama ? deps.ollama(url) : await ollamaClient(url, ca);
      const rows = await benchModels(client, capacity, { tokens });
      io.out(opts.json ? `${JSON.stringify({ stack, url, rows }, null, 2)}\n` : renderBench(rows));
    });

  program
    .command("doctor")
    .description("what each verb and test suite needs on this machine, and whether it is there; exit 0 when plan, policy and capacity can run")
    .option("--json", "print {ok, checks:[{check, status, detail, neededBy}]}")
    .action((opts: { json?: boolean }) => {
      const report = runDoctor(join(__dirname, ".."), deps.exec);
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
      code = report.ok ? EXIT.ok : EXIT.failed;
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exits with code 0; everything else commander rejects is an argument error.
      code = err.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
    } else if (err instanceof ConfigError) {
      io.err(`${err.message}\n`);
      code = EXIT.invalidInput;
    } else if (
      err instanceof StackFileError ||
      err instanceof PolicyConfigError ||
      err instanceof ArgumentError ||
      err instanceof PrerequisiteError ||
      err instanceof RotationRefused ||
      err instanceof DrillJournalError
    ) {
      io.err(`error: ${err.message}\n`);
      code = EXIT.invalidInput;
    } else if (err instanceof ProxmoxApiError) {
      io.err(`error: ${err.message}\n`);
      code = EXIT.failed;
    } else if (err instanceof PulumiCommandError || err instanceof RotationFailed) {
      io.err(`error: ${err.message}\n`);
      code = EXIT.failed;
    } else {
      throw err;
    }
  }
  return code;
}

/** Resolves once everything written to `stream` so far has reached the file, pipe or terminal behind it. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => (stream.destroyed || !stream.writable ? resolve() : stream.write("", () => resolve())));
}

/**
 * The process entry (`npm run dualstack`, the package bin): runs main, then exits with its code once stdout and
 * stderr have drained (a pipe would otherwise be cut at its buffer, 64 KiB). An internal error is one line, its
 * stack only with --debug.
 */
export async function run(argv: string[], deps: Deps = {}): Promise<never> {
  // A reader that goes away (`| head`) ends the output, not the command with a stack trace.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (err: NodeJS.ErrnoException) => err.code === "EPIPE" || process.stderr.write(`dualstack: ${err.message}\n`));
  let code: number;
  try {
    code = await main(argv, processIo(), deps);
  } catch (err) {
    const detail = argv.includes("--debug") && err instanceof Error ? err.stack : `${err instanceof Error ? err.message : String(err)} (--debug shows where)`;
    process.stderr.write(`dualstack: internal error: ${detail}\n`);
    code = EXIT.failed;
  }
  await drained(process.stdout);
  await drained(process.stderr);
  process.exit(code);
}

if (require.main === module) void run(process.argv.slice(2));
