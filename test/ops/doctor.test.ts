// `dualstack doctor` against a scripted machine: a stand-in `pulumi` on PATH answering version, plugin ls and whoami
// as the real CLI does (the real one is checked by the engine test's toolchain), and project roots whose packages are
// or are not at the lockfile's versions.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../ops/cli";
import { runDoctor } from "../../ops/doctor";
import { ROOT } from "../helpers/config";

let dir: string;
const savedPath = process.env.PATH;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "doctor-"));
});
afterEach(() => {
  process.env.PATH = savedPath;
});

/** A `pulumi` on PATH that answers like the CLI: its version, the installed plugins, and whether it is logged in. */
function fakePulumi(version: string, plugins: { name: string; version: string }[], loggedIn: boolean): void {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const list = JSON.stringify(plugins.map((p) => ({ name: p.name, kind: "resource", version: p.version })));
  writeFileSync(
    join(bin, "pulumi"),
    `#!/bin/bash
case "$1" in
  version) echo "${version}" ;;
  plugin) echo '${list}' ;;
  whoami) ${loggedIn ? 'printf "User: ops\\nBackend URL: file:///srv/state\\n"' : 'echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 255'} ;;
esac
`,
  );
  chmodSync(join(bin, "pulumi"), 0o755);
  process.env.PATH = `${bin}:${savedPath}`;
}

async function doctor(env: NodeJS.ProcessEnv = {}) {
  let out = "";
  const saved = process.env.DUALSTACK_PROXMOX_TOKEN;
  if (env.DUALSTACK_PROXMOX_TOKEN) process.env.DUALSTACK_PROXMOX_TOKEN = env.DUALSTACK_PROXMOX_TOKEN;
  else delete process.env.DUALSTACK_PROXMOX_TOKEN;
  try {
    const code = await main(["doctor", "--json"], { out: (t) => (out += t), err: () => undefined });
    return { code, report: JSON.parse(out) as ReturnType<typeof runDoctor> };
  } finally {
    if (saved === undefined) delete process.env.DUALSTACK_PROXMOX_TOKEN;
    else process.env.DUALSTACK_PROXMOX_TOKEN = saved;
  }
}
const status = (r: ReturnType<typeof runDoctor>, check: string) => r.checks.find((c) => c.check === check);

describe("dualstack doctor", () => {
  it("with the CLI, every plugin, a login and the token: the live verbs are ready too", async () => {
    fakePulumi(
      "v3.250.1",
      [
        { name: "proxmoxve", version: "8.6.0" },
        { name: "command", version: "4.5.0" },
        { name: "docker", version: "5.2.0" },
        { name: "random", version: "4.21.2" },
        { name: "tls", version: "5.6.1" },
      ],
      true,
    );
    const { code, report } = await doctor({ DUALSTACK_PROXMOX_TOKEN: "root@pam!ops=0b4f4c1e-2f5a-4d35-9a3e-0123456789ab" });
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    for (const c of [
      "Node.js",
      "npm packages",
      "policy pack",
      "Pulumi CLI",
      "plugin proxmoxve 8.6.0",
      "plugin tls 5.6.1",
      "backend login",
      "Proxmox API token",
    ])
      expect(status(report, c)?.status, c).toBe("ok");
    expect(status(report, "Pulumi CLI")?.detail).toBe("v3.250.1 (the SDK is 3.248.0)");
    expect(status(report, "backend login")?.detail).toBe("logged in to file:///srv/state");
    expect(JSON.stringify(report)).not.toContain("0b4f4c1e");
  });

  it("an older CLI, a missing plugin and no login are reported with what to run; the offline verbs still can (exit 0)", async () => {
    fakePulumi("v3.100.0", [{ name: "proxmoxve", version: "8.3.0" }], false);
    const { code, report } = await doctor();
    expect(code).toBe(0);
    expect(status(report, "Pulumi CLI")).toMatchObject({ status: "outdated", detail: "v3.100.0 is older than the SDK 3.248.0: upgrade it" });
    expect(status(report, "plugin proxmoxve 8.6.0")).toMatchObject({ status: "missing" });
    expect(status(report, "plugin proxmoxve 8.6.0")?.detail).toMatch(
      /^bash scripts\/proxmoxve-plugin\.sh, then pulumi plugin install resource proxmoxve 8\.6\.0 --file .*muhlba91\/pulumi-proxmoxve#967\)$/,
    );
    expect(status(report, "backend login")).toMatchObject({ status: "missing", detail: "pulumi login <backend> (or PULUMI_BACKEND_URL)" });
    expect(status(report, "Proxmox API token")?.status).toBe("missing");
  });

  it("the installed proxmoxve plugin must be the project's build (upstream's published one panics on storages)", async () => {
    fakePulumi("v3.250.1", [{ name: "proxmoxve", version: "8.6.0" }], true);
    const home = join(dir, "pulumi-home");
    const installed = join(home, "plugins/resource-proxmoxve-v8.6.0");
    mkdirSync(installed, { recursive: true });
    // The project's build, where the tests find built tools: on PATH outside /usr.
    writeFileSync(join(dir, "bin/pulumi-resource-proxmoxve"), "#!/bin/sh\necho project-build\n", { mode: 0o755 });
    const savedHome = process.env.PULUMI_HOME;
    process.env.PULUMI_HOME = home;
    try {
      writeFileSync(join(installed, "pulumi-resource-proxmoxve"), "#!/bin/sh\necho project-build\n", { mode: 0o755 });
      expect(status((await doctor()).report, "plugin proxmoxve 8.6.0")).toMatchObject({
        status: "ok",
        detail: "the project's build (scripts/proxmoxve-plugin.sh)",
      });
      writeFileSync(join(installed, "pulumi-resource-proxmoxve"), "#!/bin/sh\necho upstream\n", { mode: 0o755 });
      const { code, report } = await doctor();
      expect(code).toBe(0);
      expect(status(report, "plugin proxmoxve 8.6.0")?.status).toBe("unsafe");
      expect(status(report, "plugin proxmoxve 8.6.0")?.detail).toMatch(/^not the project's build: bash scripts\/proxmoxve-plugin\.sh/);
    } finally {
      if (savedHome === undefined) delete process.env.PULUMI_HOME;
      else process.env.PULUMI_HOME = savedHome;
    }
  });

  it("without a Pulumi CLI: the live checks say so; a table by default", async () => {
    process.env.PATH = mkdtempSync(join(tmpdir(), "empty-"));
    const report = runDoctor(ROOT);
    expect(report.ok).toBe(true);
    expect(status(report, "Pulumi CLI")?.detail).toMatch(/^not on PATH: install it/);
    expect(status(report, "backend login")?.detail).toBe("needs the Pulumi CLI");
    let out = "";
    expect(await main(["doctor"], { out: (t) => (out += t), err: () => undefined })).toBe(0);
    expect(out.split("\n")[0]).toMatch(/^check\s+status\s+needed by\s+detail$/);
    expect(out).toContain("the offline verbs (plan, policy, capacity) can run\n");
  });

  it("packages missing or not at the lockfile's versions stop the offline verbs: exit 1, naming them and npm ci", () => {
    const root = join(dir, "project");
    mkdirSync(join(root, "node_modules/yaml"), { recursive: true });
    writeFileSync(join(root, "package.json"), JSON.stringify({ dependencies: { yaml: "2.9.1", zod: "4.6.7" }, devDependencies: {} }));
    writeFileSync(
      join(root, "package-lock.json"),
      JSON.stringify({ packages: { "node_modules/yaml": { version: "2.9.1" }, "node_modules/zod": { version: "4.6.7" } } }),
    );
    writeFileSync(join(root, "node_modules/yaml/package.json"), JSON.stringify({ version: "2.8.0" }));
    const report = runDoctor(root, () => undefined, {});
    expect(report.ok).toBe(false);
    expect(status(report, "npm packages")).toMatchObject({
      status: "missing",
      detail: "yaml 2.8.0 (lockfile 2.9.1), zod missing (lockfile 4.6.7): run npm ci",
    });
  });
});
