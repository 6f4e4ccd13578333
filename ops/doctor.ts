// `dualstack doctor`: what each verb needs on this machine, and whether it is there. The offline verbs (plan,
// policy, capacity) need Node and the locked npm packages; the live ones (drift, drill, backup, bench, and pulumi
// preview/up with the policy pack) the Pulumi CLI, its provider plugins, a backend login and the operator's token;
// the test suites the tools ops/prerequisites.js lists. Exit 0 when the offline verbs can run.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { TOKEN_FORM } from "./proxmox-api";
import { findTool, missingTools, onPath, remedy, type Suite } from "./prerequisites";

export type Status = "ok" | "missing" | "outdated" | "unsafe";

export interface DoctorCheck {
  check: string;
  status: Status;
  /** What it found, or what to do. */
  detail: string;
  /** The verbs (or suites) that cannot run without it. */
  neededBy: string[];
}

export interface DoctorReport {
  /** Whether the offline verbs can run. */
  ok: boolean;
  checks: DoctorCheck[];
}

/** Runs a program; the seam the tests script. Resolves to its exit code and stdout (undefined: it is not installed). */
export type Exec = (command: string, args: string[]) => { code: number; stdout: string } | undefined;

const realExec: Exec = (command, args) => {
  const path = onPath(command);
  if (!path) return undefined;
  try {
    return { code: 0, stdout: execFileSync(path, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 }) };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string };
    return { code: e.status ?? 1, stdout: String(e.stdout ?? "") };
  }
};

const OFFLINE = ["plan", "policy", "capacity"];
const ENGINE = ["drift", "drill", "bench", "pulumi preview/up"];
const EVERY = ["every verb", "tests"];

/** a ≥ b for dotted versions ("20.6.0", "v3.248.0"). */
function atLeast(a: string, b: string): boolean {
  const pa = a.replace(/^v/, "").split(/[.-]/).map(Number);
  const pb = b.replace(/^v/, "").split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) > (pb[i] || 0);
  return true;
}

interface Lockfile {
  packages: Record<string, { version?: string }>;
}

/** The node_modules/<name> version npm installed, or undefined. */
function installed(root: string, name: string, from = root): string | undefined {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`, { paths: [from] }), "utf8")) as { version: string }).version;
  } catch {
    const file = join(root, "node_modules", name, "package.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : undefined;
  }
}

/** The project's direct dependencies that are missing or not at the lockfile's version. */
function dependencyCheck(root: string): DoctorCheck {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as Lockfile;
  const wrong: string[] = [];
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
    const want = lock.packages[`node_modules/${name}`]?.version;
    const have = installed(root, name);
    if (have?.replace(/^v/, "") !== want?.replace(/^v/, "")) wrong.push(`${name} ${have ?? "missing"}${want ? ` (lockfile ${want})` : ""}`);
  }
  return {
    check: "npm packages",
    status: wrong.length ? "missing" : "ok",
    detail: wrong.length
      ? `${wrong.slice(0, 4).join(", ")}${wrong.length > 4 ? ` and ${wrong.length - 4} more` : ""}: run npm ci`
      : `${Object.keys(pkg.dependencies).length + Object.keys(pkg.devDependencies).length} at the lockfile's versions`,
    neededBy: EVERY,
  };
}

/** The resource plugins the provider SDKs ask the engine for: name and version. */
function wantedPlugins(root: string): { name: string; version: string }[] {
  const sdks = ["@muhlba91/pulumi-proxmoxve", "@pulumi/command", "@pulumi/docker", "@pulumi/random", "@pulumi/tls"];
  return sdks.flatMap((sdk) => {
    const file = join(root, "node_modules", sdk, "package.json");
    if (!existsSync(file)) return [];
    const p = JSON.parse(readFileSync(file, "utf8")) as { version: string; pulumi?: { name?: string; version?: string } };
    return p.pulumi?.name ? [{ name: p.pulumi.name, version: (p.pulumi.version ?? p.version).replace(/^v/, "") }] : [];
  });
}

/** How to install the project's proxmoxve plugin build, at the version the SDK asks for. */
const projectPlugin = (version: string) =>
  `bash scripts/proxmoxve-plugin.sh, then pulumi plugin install resource proxmoxve ${version} --file <the directory it prints>/pulumi-resource-proxmoxve (upstream's published 8.x panics creating storages and backup jobs: muhlba91/pulumi-proxmoxve#967)`;

/**
 * Whether the installed proxmoxve plugin is the project's own build (scripts/proxmoxve-plugin.sh), the one the engine
 * test runs, whose storages and backup jobs are created without upstream's panic: the installed binary's hash
 * against the build in the cache.
 */
function proxmoxvePlugin(version: string, env: NodeJS.ProcessEnv): Pick<DoctorCheck, "status" | "detail"> {
  const installed = join(env.PULUMI_HOME ?? join(homedir(), ".pulumi"), "plugins", `resource-proxmoxve-v${version}`, "pulumi-resource-proxmoxve");
  const built = findTool("pulumi-resource-proxmoxve");
  const hash = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
  if (!existsSync(installed)) return { status: "ok", detail: "installed" };
  if (!built) return { status: "unsafe", detail: `installed; is it the project's build? ${projectPlugin(version)}` };
  return hash(installed) === hash(built)
    ? { status: "ok", detail: "the project's build (scripts/proxmoxve-plugin.sh)" }
    : { status: "unsafe", detail: `not the project's build: ${projectPlugin(version)}` };
}

export function runDoctor(root: string, exec: Exec = realExec, env: NodeJS.ProcessEnv = process.env): DoctorReport {
  const checks: DoctorCheck[] = [];
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines?: { node?: string } };
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as Lockfile;

  // `node --import tsx` (the CLI, the stand-in plugins, the policy pack under tsx) needs module.register: 20.6.
  const nodeMin = ["20.6.0", (pkg.engines?.node ?? "").replace(/^>=\s*/, "")].reduce((a, b) => (b && atLeast(b, a) ? b : a));
  checks.push({
    check: "Node.js",
    status: atLeast(process.versions.node, nodeMin) ? "ok" : "outdated",
    detail: `${process.versions.node} (needs ≥ ${nodeMin})`,
    neededBy: EVERY,
  });
  checks.push(dependencyCheck(root));

  const policyDeps = ["@pulumi/policy", "@pulumi/pulumi", "typescript"].map((d) => [d, installed(root, d, join(root, "policies"))] as const);
  const policyMissing = policyDeps.filter(([, v]) => !v).map(([d]) => d);
  checks.push({
    check: "policy pack",
    status: policyMissing.length ? "missing" : "ok",
    detail: policyMissing.length ? `${policyMissing.join(", ")} not found from policies/: run npm ci` : policyDeps.map(([d, v]) => `${d} ${v}`).join(", "),
    neededBy: ["policy", "pulumi preview/up"],
  });

  const sdk = lock.packages["node_modules/@pulumi/pulumi"]?.version ?? "?";
  const version = exec("pulumi", ["version"]);
  const cli = version?.code === 0 ? version.stdout.trim() : undefined;
  checks.push({
    check: "Pulumi CLI",
    status: !cli ? "missing" : atLeast(cli, sdk) ? "ok" : "outdated",
    detail: !cli
      ? `not on PATH: install it (https://www.pulumi.com/docs/install/), ${sdk} or newer`
      : atLeast(cli, sdk)
        ? `${cli} (the SDK is ${sdk})`
        : `${cli} is older than the SDK ${sdk}: upgrade it`,
    neededBy: ENGINE,
  });

  const plugins = wantedPlugins(root);
  const listed = cli ? exec("pulumi", ["plugin", "ls", "--json"]) : undefined;
  let have: { name: string; kind: string; version: string }[] = [];
  try {
    have = listed?.code === 0 ? (JSON.parse(listed.stdout || "[]") as typeof have) : [];
  } catch {
    have = [];
  }
  for (const p of plugins) {
    const found = have.some((h) => h.kind === "resource" && h.name === p.name && h.version === p.version);
    const check = `plugin ${p.name} ${p.version}`;
    if (found && p.name === "proxmoxve") {
      checks.push({ check, ...proxmoxvePlugin(p.version, env), neededBy: ENGINE });
      continue;
    }
    checks.push({
      check,
      status: found ? "ok" : "missing",
      detail: found
        ? "installed"
        : p.name === "proxmoxve"
          ? projectPlugin(p.version)
          : cli
            ? `pulumi plugin install resource ${p.name} ${p.version}`
            : "needs the Pulumi CLI",
      neededBy: ENGINE,
    });
  }

  const who = cli ? exec("pulumi", ["whoami", "--verbose", "--non-interactive"]) : undefined;
  const backend = who?.stdout.match(/Backend URL:\s*(\S+)/)?.[1];
  checks.push({
    check: "backend login",
    status: who?.code === 0 ? "ok" : "missing",
    detail: who?.code === 0 ? `logged in${backend ? ` to ${backend}` : ""}` : cli ? "pulumi login <backend> (or PULUMI_BACKEND_URL)" : "needs the Pulumi CLI",
    neededBy: ["drift", "drill", "bench"],
  });

  const token = env.DUALSTACK_PROXMOX_TOKEN;
  checks.push({
    check: "Proxmox API token",
    status: token && TOKEN_FORM.test(token) ? "ok" : "missing",
    detail: token
      ? TOKEN_FORM.test(token)
        ? "DUALSTACK_PROXMOX_TOKEN is set (not shown)"
        : "DUALSTACK_PROXMOX_TOKEN is not of the form user@realm!name=secret"
      : "export DUALSTACK_PROXMOX_TOKEN=user@realm!name=secret",
    neededBy: ["drill", "backup"],
  });

  for (const suite of ["unit", "engine", "integration", "guests"] as Suite[]) {
    const missing = missingTools([suite]);
    checks.push({
      check: `${suite} test tools`,
      status: missing.length ? "missing" : "ok",
      detail: missing.length ? `missing ${missing.map((t) => `${t.name} (${remedy(t)})`).join(", ")}` : "all installed",
      neededBy: [`tests (${suite})`],
    });
  }

  const offline = checks.filter((c) => c.neededBy.some((v) => v === "every verb" || OFFLINE.includes(v)));
  return { ok: offline.every((c) => c.status === "ok"), checks };
}

export function renderDoctor(r: DoctorReport): string {
  const rows = [["check", "status", "needed by", "detail"], ...r.checks.map((c) => [c.check, c.status, c.neededBy.join(", "), c.detail])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell))
      .join("  ")
      .trimEnd(),
  );
  const verdict = r.ok ? "the offline verbs (plan, policy, capacity) can run" : "the offline verbs cannot run: fix what is missing above";
  return `${lines.join("\n")}\n\n${verdict}\n`;
}
