// @ts-check
// What each part of the project needs on the machine, in one place: `dualstack doctor` reports it, the tests find
// their tools through it (test/helpers/process.ts), and scripts/test.sh installs or builds what is missing.
// Plain JavaScript on Node's built-ins only, so that scripts/test.sh can ask it before `npm ci` has run:
//   node ops/prerequisites.js [--for unit,engine,integration] [--packages | --builds]
// prints what is missing for those suites (with --packages, only the Debian packages to install, on one line; with
// --builds, "name script suites" for each tool still to be built) and exits 2 when something is missing.
"use strict";
const { execFileSync } = require("node:child_process");
const { existsSync, readdirSync, statSync } = require("node:fs");
const { join, resolve } = require("node:path");

const ROOT = resolve(__dirname, "..");

/**
 * @typedef {"unit" | "engine" | "integration" | "guests"} Suite
 * @typedef {object} Tool
 * @property {string} name      what the tests and messages call it (the command, usually)
 * @property {string} why       what needs it
 * @property {readonly Suite[]} suites the test suites that need it
 * @property {string} [package] the Debian package that installs it
 * @property {string} [build]   the script of this repository that builds it (cached under ~/.cache/ai-dualstack)
 * @property {string} [file]    a file whose presence means it is installed (headers), instead of a command
 * @property {string} [dirs]    a directory glob (one `*`) to look for the command in, besides PATH
 */

/** @type {readonly Tool[]} */
const TOOLS = [
  { name: "git", package: "git", suites: ["unit", "engine"], why: "the engine test copies the tracked files" },
  { name: "bash", package: "bash", suites: ["unit"], why: "runs the rendered install and backup scripts" },
  { name: "cloud-init", package: "cloud-init", suites: ["unit"], why: "checks the rendered user-data against its schema" },
  { name: "caddy", package: "caddy", suites: ["unit"], why: "validates the rendered Caddyfiles and runs the gateways" },
  { name: "promtool", package: "prometheus", suites: ["unit", "integration"], why: "checks the rendered rules, queries and metrics" },
  { name: "prometheus", package: "prometheus", suites: ["unit"], why: "reads the discovery files; the drill reads its restic metrics" },
  {
    name: "prometheus-alertmanager",
    package: "prometheus-alertmanager",
    suites: ["unit"],
    why: "delivers a fired alert to the tests' webhook with the rendered configuration",
  },
  { name: "amtool", package: "prometheus-alertmanager", suites: ["unit"], why: "checks the rendered Alertmanager configuration and its routes" },
  { name: "systemd-analyze", package: "systemd", suites: ["unit"], why: "verifies the rendered systemd units" },
  { name: "openssl", package: "openssl", suites: ["unit", "integration"], why: "makes the tests' certificate authorities" },
  { name: "jq", package: "jq", suites: ["unit"], why: "the discovery script's JSON, and the build scripts" },
  { name: "curl", package: "curl", suites: ["unit"], why: "the rendered scripts' HTTP calls" },
  { name: "restic", package: "restic", suites: ["unit"], why: "the backup and restore scripts, for real" },
  { name: "shellcheck", package: "shellcheck", suites: ["unit"], why: "lints every script the program renders and scripts/" },
  {
    name: "initdb",
    package: "postgresql",
    dirs: "/usr/lib/postgresql/*/bin",
    suites: ["unit", "integration"],
    why: "the real PostgreSQL the tenancy providers run against",
  },
  { name: "psql", package: "postgresql-client", suites: ["integration"], why: "writes rows behind the providers' backs" },
  { name: "redis-server", package: "redis-server", suites: ["unit", "integration"], why: "the real Redis the tenancy providers run against" },
  { name: "actionlint", build: "scripts/actionlint.sh", suites: ["unit"], why: "checks the operator's CI workflows" },
  { name: "compose-check", build: "scripts/compose-check.sh", suites: ["unit"], why: "reads `dualstack compose`'s Compose files as Docker Compose does" },
  {
    name: "alloy-syntax",
    build: "scripts/alloy-syntax.sh",
    suites: ["unit"],
    why: "reads the rendered Alloy configurations with Grafana's Alloy parser (Alloy itself is not served here)",
  },
  { name: "loki", build: "scripts/loki.sh", suites: ["unit"], why: "checks the rendered Loki configuration and runs behind the log gateway" },
  { name: "pulumi", build: "scripts/pulumi-toolchain.sh", suites: ["engine", "integration"], why: "the real Pulumi engine (CLI and Node.js language host)" },
  {
    name: "pulumi-resource-proxmoxve",
    build: "scripts/proxmoxve-plugin.sh",
    suites: ["engine"],
    why: "the real proxmoxve provider logic (bpg's provider through Pulumi's Terraform bridge)",
  },
  { name: "unshare", package: "util-linux", suites: ["engine"], why: "runs the engine test in a network namespace with only a loopback" },
  { name: "ip", package: "iproute2", suites: ["engine"], why: "brings up that namespace's loopback" },
  { name: "g++", package: "g++", suites: ["integration", "guests"], why: "Ollama's build (llama.cpp)" },
  {
    name: "nlohmann/json",
    package: "nlohmann-json3-dev",
    file: "/usr/include/nlohmann/json_fwd.hpp",
    suites: ["integration", "guests"],
    why: "Ollama's build (llama.cpp's vendored headers)",
  },
  {
    name: "stb_image",
    package: "libstb-dev",
    file: "/usr/include/stb/stb_image.h",
    suites: ["integration", "guests"],
    why: "Ollama's build (llama.cpp's vendored headers)",
  },
  {
    name: "docker-registry",
    package: "docker-registry",
    suites: ["unit", "integration"],
    why: "the registry `dualstack images --check` asks, and the one Ollama pulls the test model from",
  },
  {
    name: "ollama",
    build: "scripts/ollama.sh",
    suites: ["integration", "guests"],
    why: "the real Ollama the model provider runs against, and the ollama image of the GPU-VM stand-in",
  },
  { name: "vault", build: "scripts/vault.sh", suites: ["integration"], why: "the real Vault the secrets provider runs against" },
  { name: "qemu-system-x86_64", package: "qemu-system-x86", suites: ["guests"], why: "boots the real guests (software emulation)" },
  { name: "qemu-img", package: "qemu-utils", suites: ["guests"], why: "the guests' disks: the image, overlays, data disks" },
  { name: "mmdebstrap", package: "mmdebstrap", suites: ["guests"], why: "builds the guest image from the Debian archive" },
  { name: "mke2fs", package: "e2fsprogs", suites: ["guests"], why: "the guest image's root filesystem" },
  { name: "sfdisk", package: "fdisk", suites: ["guests"], why: "the guest image's partition table" },
  { name: "cloud-localds", package: "cloud-image-utils", suites: ["guests"], why: "the NoCloud seed with the program's user-data" },
  { name: "genisoimage", package: "genisoimage", suites: ["guests"], why: "cloud-localds writes the seed with it" },
  { name: "apt-cacher-ng", package: "apt-cacher-ng", suites: ["guests"], why: "the package cache the guests install through" },
  {
    name: "acngtool",
    package: "apt-cacher-ng",
    dirs: "/usr/lib/*",
    suites: ["unit"],
    why: "reads the package cache's rendered configuration as apt-cacher-ng does",
  },
  { name: "socat", package: "socat", suites: ["guests"], why: "forwards a guest's package-cache connections to the cache" },
  { name: "ssh", package: "openssh-client", suites: ["guests"], why: "logs in to the guests" },
  { name: "ssh-keygen", package: "openssh-client", suites: ["guests"], why: "the test's own SSH key" },
  { name: "sftp", package: "openssh-client", suites: ["guests"], why: "reaches the backup guest's sftp-only repository accounts" },
  { name: "scp", package: "openssh-client", suites: ["guests"], why: "copies the locally built images and the Compose CLI into the GPU-VM stand-in" },
  { name: "ldd", package: "libc-bin", suites: ["guests"], why: "lists the shared libraries the locally built images carry" },
  { name: "tar", package: "tar", suites: ["guests"], why: "packs the locally built images' root filesystems" },
  { name: "busybox", package: "busybox-static", suites: ["guests"], why: "the web server of the stand-in for the UI image, which cannot be had here" },
  {
    name: "docker-compose",
    build: "scripts/docker-compose.sh",
    suites: ["guests"],
    why: "`docker compose up --wait` of `dualstack compose`'s file in the GPU-VM stand-in (bookworm has only Compose v1)",
  },
  { name: "caddy-image", build: "scripts/caddy.sh", suites: ["guests"], why: "the caddy image (the images' version) the stand-in's ingress and gateway run" },
  { name: "redis-cli", package: "redis-tools", suites: ["guests"], why: "Redis's own client, against the Redis the install script set up" },
];

/** @param {string} path */
const isExecutable = (path) => {
  try {
    return statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0;
  } catch {
    return false;
  }
};

/**
 * `command` on PATH (skipping /usr when `outsideUsr`: Debian has an unrelated `loki`), or undefined.
 * @param {string} command
 */
function onPath(command, outsideUsr = false) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir || (outsideUsr && dir.startsWith("/usr"))) continue;
    if (isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** What the build scripts need; missing only when something is still to be built. @type {Tool} */
const GO = { name: "go", suites: [], why: "builds the tools above from the Go module proxy (cached afterwards)" };

/** @type {Map<string, string>} */
const built = new Map();

/**
 * The directory a build script has its binary cached in (`<script> --check`), or undefined when it is not built
 * (asked again next time: it may be built by then).
 * @param {string} script
 */
function builtDir(script) {
  if (!built.has(script)) {
    try {
      const dir = execFileSync("bash", [join(ROOT, script), "--check"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 30_000 })
        .trim()
        .split("\n")
        .pop();
      if (dir) built.set(script, dir);
    } catch {
      /* not built */
    }
  }
  return built.get(script);
}

/**
 * Where the tool is: its absolute path (the file, for headers), or undefined. A built tool on PATH outside /usr is
 * taken first (CI puts the build directories there), then the build script's cache.
 * @param {Tool} tool
 * @returns {string | undefined}
 */
function locate(tool) {
  if (tool.file) return existsSync(tool.file) ? tool.file : undefined;
  if (tool.build) {
    const found = onPath(tool.name, true);
    if (found) return found;
    const dir = builtDir(tool.build);
    return dir && isExecutable(join(dir, tool.name)) ? join(dir, tool.name) : undefined;
  }
  if (tool.dirs) {
    const [base, rest] = tool.dirs.split("*");
    const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a)) : [];
    for (const v of versions) if (isExecutable(join(base, v, rest, tool.name))) return join(base, v, rest, tool.name);
  }
  return onPath(tool.name) ?? (tool === GO && isExecutable("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : undefined);
}

/** @param {Tool} tool How to get the tool, as one short phrase. */
function remedy(tool) {
  if (tool.package) return `apt-get install ${tool.package}`;
  if (tool.build) return `bash ${tool.build}`;
  return "install Go ≥ 1.26 (https://go.dev/doc/install; Debian's golang-go is too old for these modules)";
}

/** Something this machine lacks for what was asked (a program, a login, a token): exit 2 in the CLI, one line. */
class PrerequisiteError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "PrerequisiteError";
  }
}

/** A tool the tests need that is not installed. */
class MissingToolError extends PrerequisiteError {
  /** @param {Tool} tool */
  constructor(tool) {
    super(`${tool.name} is not installed (${tool.why}): ${remedy(tool)}, or run \`bash scripts/test.sh\` (as root it installs the Debian packages)`);
    this.name = "MissingToolError";
    this.tool = tool;
  }
}

/**
 * The absolute path of a tool the tests need; a MissingToolError naming it and its package when it is not there.
 * @param {string} name
 * @returns {string}
 */
function requireTool(name) {
  const path = findTool(name);
  if (!path) throw new MissingToolError(/** @type {Tool} */ (TOOLS.find((t) => t.name === name)));
  return path;
}

/**
 * The absolute path of a declared tool, or undefined when it is not there.
 * @param {string} name
 * @returns {string | undefined}
 */
function findTool(name) {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`ops/prerequisites.js: no tool named ${JSON.stringify(name)} is declared`);
  return locate(tool);
}

/**
 * The tools the given suites need that are not there.
 * @param {readonly Suite[]} suites
 * @returns {Tool[]}
 */
function missingTools(suites) {
  const missing = TOOLS.filter((t) => t.suites.some((s) => suites.includes(s)) && !locate(t));
  return missing.some((t) => t.build) && !locate(GO) ? [...missing, GO] : missing;
}

/** @param {Tool[]} tools The Debian packages that install them, once each. */
const packagesOf = (tools) => [...new Set(tools.flatMap((t) => (t.package ? [t.package] : [])))];

/** @param {Tool[]} tools One line per missing tool, then the commands that get them. */
function renderMissing(tools) {
  const lines = tools.map((t) => `  - ${t.name}${t.package ? ` (Debian package ${t.package})` : ""}: ${t.why}`);
  const pkgs = packagesOf(tools);
  const builds = tools.filter((t) => t.build).map((t) => `bash ${t.build}`);
  const go = tools.includes(GO) ? [remedy(GO)] : [];
  const how = [...(pkgs.length ? [`apt-get install -y ${pkgs.join(" ")}`] : []), ...go, ...builds];
  return `missing:\n${lines.join("\n")}\ninstall with:\n${how.map((h) => `  ${h}`).join("\n")}\n`;
}

module.exports = { TOOLS, GO, PrerequisiteError, MissingToolError, onPath, remedy, requireTool, findTool, missingTools, packagesOf, renderMissing, locate };

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--for");
  /** @type {Suite[]} */
  const all = ["unit", "engine", "integration", "guests"];
  const wanted = at >= 0 ? (args[at + 1]?.split(",") ?? []) : all;
  const bad = wanted.filter((s) => !all.includes(/** @type {Suite} */ (s)));
  if (bad.length > 0 || wanted.length === 0) {
    process.stderr.write(`--for: expected a comma-separated list of ${all.join(", ")}, got ${JSON.stringify(args[at + 1] ?? "")}\n`);
    process.exit(2);
  }
  const missing = missingTools(/** @type {Suite[]} */ (wanted));
  if (args.includes("--packages")) process.stdout.write(`${packagesOf(missing).join(" ")}\n`);
  else if (args.includes("--builds")) process.stdout.write(missing.flatMap((t) => (t.build ? [`${t.name} ${t.build} ${t.suites.join(",")}\n`] : [])).join(""));
  else if (missing.length > 0) process.stdout.write(renderMissing(missing));
  process.exit(missing.length > 0 ? 2 : 0);
}
