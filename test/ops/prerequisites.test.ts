// What the tests need, and how they fail without it (ops/prerequisites.js, test/helpers/process.ts): a missing tool
// is named with its package at once, by the suite before anything runs and by every helper that starts a program;
// no helper waits on a program that never started, died, or never got ready.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/config";
import { accepts, run, startProcess } from "../helpers/process";
import { freePort } from "../helpers/servers";

/** A PATH with every program of this one but `hidden` (links in one directory). */
function pathWithout(hidden: string[]): string {
  const farm = mkdtempSync(join(tmpdir(), "path-"));
  chmodSync(farm, 0o755); // for the non-root user of the test.sh test
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir || !existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      // Debian's unrelated `loki` must not pass for the built one (the lookup skips /usr, this farm is not there).
      if (hidden.includes(name) || name === "loki" || existsSync(join(farm, name))) continue;
      symlinkSync(join(dir, name), join(farm, name));
    }
  }
  return farm;
}

let noCaddy: string;
let emptyCache: string;
beforeAll(() => {
  noCaddy = pathWithout(["caddy"]);
  emptyCache = mkdtempSync(join(tmpdir(), "cache-"));
  chmodSync(emptyCache, 0o755);
});

const prerequisites = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [join(ROOT, "ops/prerequisites.js"), ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });

describe("ops/prerequisites.js", () => {
  it("names each missing tool with its package or build script and the commands that get them; exit 2", () => {
    const r = prerequisites(["--for", "unit"], { PATH: noCaddy, AI_DUALSTACK_CACHE: emptyCache });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain("  - caddy (Debian package caddy): validates the rendered Caddyfiles and runs the gateways\n");
    expect(r.stdout).toContain("  - loki: checks the rendered Loki configuration and runs behind the log gateway\n");
    expect(r.stdout).toMatch(/install with:\n {2}apt-get install -y caddy\n(.*\n)* {2}bash scripts\/loki\.sh\n/);
    expect(prerequisites(["--for", "unit", "--packages"], { PATH: noCaddy, AI_DUALSTACK_CACHE: emptyCache }).stdout).toBe("caddy\n");
    const all = prerequisites(["--for", "unit"], {});
    expect(all.stdout).toBe("");
    expect(all.status).toBe(0);
    expect(prerequisites(["--for", "nightly"], {}).stderr).toBe('--for: expected a comma-separated list of unit, engine, integration, guests, got "nightly"\n');
  });

  it("the unit suite without caddy, promtool and Loki stops before any test runs, naming each with its package or build", () => {
    const vitest = join(ROOT, "node_modules/vitest/vitest.mjs");
    const started = Date.now();
    const r = spawnSync(process.execPath, [vitest, "run", "test/ops/doctor.test.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, PATH: pathWithout(["caddy", "promtool"]), AI_DUALSTACK_CACHE: emptyCache, CI: "1" },
      timeout: 90_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status).not.toBe(0);
    expect(out).toContain("the unit suite needs tools that are not installed");
    expect(out).toContain("caddy (Debian package caddy)");
    expect(out).toContain("promtool (Debian package prometheus)");
    expect(out).toContain("loki: checks the rendered Loki configuration");
    expect(out).toContain("bash scripts/loki.sh");
    expect(out).not.toContain("Test Files");
    expect(Date.now() - started).toBeLessThan(60_000);
    // The same file without the check runs: it does not need caddy.
    const off = spawnSync(process.execPath, [vitest, "run", "test/ops/doctor.test.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, PATH: noCaddy, CI: "1", DUALSTACK_TOOL_CHECK: "off" },
      timeout: 90_000,
    });
    expect(off.status, `${off.stdout}${off.stderr}`).toBe(0);
  }, 120_000);
});

describe("scripts/test.sh", () => {
  it("as a user who cannot install, stops within seconds with the list of what is missing and the command that installs it", () => {
    // root runs it as nobody (CI is root); anyone else is already such a user.
    const asNobody = process.getuid?.() === 0;
    const home = mkdtempSync(join(tmpdir(), "home-"));
    chmodSync(home, 0o777);
    const started = Date.now();
    const command = asNobody ? "runuser" : "bash";
    const args = [...(asNobody ? ["-u", "nobody", "--", "bash"] : []), "scripts/test.sh", "unit"];
    // A copy of the tracked files where that user can read them (the checkout may live under root's home).
    const checkout = mkdtempSync(join(tmpdir(), "checkout-"));
    chmodSync(checkout, 0o755);
    for (const f of spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean)) {
      mkdirSync(dirname(join(checkout, f)), { recursive: true, mode: 0o755 });
      cpSync(join(ROOT, f), join(checkout, f));
    }
    const r = spawnSync(command, args, {
      cwd: checkout,
      encoding: "utf8",
      env: { PATH: noCaddy, HOME: home, AI_DUALSTACK_CACHE: emptyCache },
      timeout: 60_000,
    });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(2);
    expect(r.stdout).toContain("  - caddy (Debian package caddy): validates the rendered Caddyfiles and runs the gateways\n");
    expect(r.stderr).toContain("scripts/test.sh: as root it installs these itself; or: sudo apt-get install -y caddy\n");
    expect(r.stdout).not.toContain("npm");
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe("starting programs (test/helpers/process.ts)", () => {
  it("a tool that is not installed fails at once, naming it and its package", async () => {
    const saved = process.env.PATH;
    process.env.PATH = noCaddy;
    try {
      await expect(startProcess("caddy", ["run"], { ready: async () => true })).rejects.toThrow(
        /^caddy is not installed \(validates the rendered Caddyfiles and runs the gateways\): apt-get install caddy, or run `bash scripts\/test.sh`/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  it("a program that cannot start, or dies before it is ready, is an error with its output, at once", async () => {
    const started = Date.now();
    await expect(startProcess("/nonexistent/server", [], { ready: async () => false })).rejects.toThrow(/^server ended before it was ready \(ENOENT\)/);
    await expect(startProcess("bash", ["-c", "echo 'bind: address already in use' >&2; exit 3"], { ready: async () => false })).rejects.toThrow(
      /ended before it was ready \(exit code 3\):\nbind: address already in use/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("one that never gets ready is stopped at its timeout; stop() is idempotent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "proc-"));
    const pidFile = join(dir, "pid");
    await expect(
      startProcess("bash", ["-c", `echo $$ > ${pidFile}; echo starting; exec sleep 600`], { ready: async () => false, readyTimeoutMs: 1_000 }),
    ).rejects.toThrow(/was not ready 1 s after it started:\nstarting/);
    const pid = Number(spawnSync("cat", [pidFile], { encoding: "utf8" }).stdout);
    expect(() => process.kill(pid, 0)).toThrow(); // gone

    const port = await freePort();
    const server = await startProcess(process.execPath, ["-e", `require("net").createServer().listen(${port}, "127.0.0.1")`], { ready: () => accepts(port) });
    expect(server.ended()).toBe(false);
    const first = server.stop();
    expect(server.stop()).toBe(first);
    await first;
    expect(server.ended()).toBe(true);
    expect(await accepts(port)).toBe(false);
  });

  it("a run that does not end in time is killed and is an error naming the command", async () => {
    const bin = mkdtempSync(join(tmpdir(), "bin-"));
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "hang"), "#!/bin/sh\nexec sleep 600\n");
    chmodSync(join(bin, "hang"), 0o755);
    await expect(run(join(bin, "hang"), ["--forever"], { timeoutMs: 500 })).rejects.toThrow(/hang --forever did not end in 0.5 s/);
    expect(await run("bash", ["-c", "echo out; echo err >&2; exit 4"])).toEqual({ code: 4, stdout: "out\n", stderr: "err\n", all: "out\nerr\n" });
  });
});
