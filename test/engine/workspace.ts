// A throwaway Pulumi workspace for the real-engine test: a copy of the project's tracked files (so that `pulumi
// config set` never rewrites the committed stack files), the project's node_modules linked in, a local file backend,
// the passphrase secrets provider, automatic plugin downloads off, and stand-in provider plugins on PATH.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { STANDIN_PACKAGES } from "./standin-provider";
import { run, tool } from "../helpers/process";

export const PASSPHRASE = "engine-test-passphrase";

export interface RunResult {
  code: number;
  out: string;
}

export class Workspace {
  readonly dir: string;
  readonly project: string;
  /** Where the Pulumi project runs: the copy's root, or `program` inside it. */
  readonly programDir: string;
  readonly env: NodeJS.ProcessEnv;

  /** The providers served by real plugins (name → version), the rest by stand-ins. */
  readonly realPlugins: Record<string, string> = {};

  /**
   * root: the project checkout; toolchain: the directory holding `pulumi` and its language host; program: a Pulumi
   * project inside the checkout; real: the provider plugins to install for real (name → version and binary), which
   * then get no stand-in.
   */
  constructor(
    root: string,
    readonly toolchain: string,
    program = ".",
    real: Record<string, { version: string; binary: string }> = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "ai-dualstack-engine-"));
    this.project = join(this.dir, "project");
    this.programDir = join(this.project, program);
    const files = spawnSync(tool("git"), ["ls-files", "-z"], { cwd: root, encoding: "utf8" });
    if (files.status !== 0) throw new Error(`git ls-files failed in ${root}: ${files.stderr}`);
    for (const file of files.stdout.split("\0").filter(Boolean)) {
      mkdirSync(dirname(join(this.project, file)), { recursive: true });
      cpSync(join(root, file), join(this.project, file));
    }
    symlinkSync(join(root, "node_modules"), join(this.project, "node_modules"));

    const bin = join(this.dir, "bin");
    mkdirSync(bin);
    this.bin = bin;
    this.root = root;
    for (const name of Object.keys(STANDIN_PACKAGES).filter((n) => !(n in real))) this.standIn(name, true);
    mkdirSync(join(this.dir, "state"));
    this.env = {
      ...process.env,
      PATH: `${bin}:${toolchain}:${process.env.PATH}`,
      PULUMI_HOME: join(this.dir, "home"),
      PULUMI_BACKEND_URL: `file://${join(this.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "1",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "1",
      NO_COLOR: "1",
    };
    // The real plugins, installed as `pulumi plugin install` installs any plugin: the version the SDK asks for.
    for (const [name, { version, binary }] of Object.entries(real)) {
      this.must(["plugin", "install", "resource", name, version, "--file", binary]);
      this.realPlugins[name] = version;
    }
  }

  private readonly bin: string;
  private readonly root: string;

  /**
   * Puts the stand-in for provider `name` on PATH (the engine prefers a plugin on PATH to an installed one), or takes
   * it away, so that an installed real plugin serves again.
   */
  standIn(name: string, on: boolean): void {
    const launcher = join(this.bin, `pulumi-resource-${name}`);
    if (!on) return rmSync(launcher, { force: true });
    const standin = join(this.root, "test", "engine", "standin-provider.ts");
    writeFileSync(launcher, `#!/bin/sh\ncd ${JSON.stringify(this.root)} && exec node --import tsx ${JSON.stringify(standin)} ${name} "$@"\n`);
    chmodSync(launcher, 0o755);
  }

  /** Runs `pulumi args…` in the project copy; stdout and stderr together, in order. */
  pulumi(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): RunResult {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], {
      cwd: this.programDir,
      env: { ...this.env, ...env },
      input,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      stdio: ["pipe", "pipe", "pipe"],
    });
    if (r.error) throw r.error;
    return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
  }

  /** pulumi(), without blocking this process (servers the test runs in-process keep answering). */
  async pulumiAsync(args: string[]): Promise<RunResult> {
    const r = await run(join(this.toolchain, "pulumi"), [...args, "--non-interactive"], { cwd: this.programDir, env: this.env, timeoutMs: 20 * 60_000 });
    return { code: r.code ?? 1, out: r.all };
  }

  /** Like pulumi(), but a failure throws with the command's output. */
  must(args: string[], input?: string): string {
    const r = this.pulumi(args, input);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.out}`);
    return r.out;
  }

  file(name: string): string {
    return join(this.programDir, name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
