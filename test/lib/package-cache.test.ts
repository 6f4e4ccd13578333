// The package cache's install script, run by bash with apt-get and systemctl stubbed, and the configuration it writes
// read by the real apt-cacher-ng's own tool (acngtool cfgdump) over the package's configuration directory. The
// guests suite (test/guests) then serves a real guest's packages through the same files.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKAGE_CACHE_CONFIG_DIR, packageCacheFiles, renderAptProxyScript, renderPackageCacheInstallScript } from "../../lib/package-cache";
import { tool } from "../helpers/process";
import { stubTool } from "../helpers/script-stubs";

let dir: string;
let bin: string;
const calls = () => readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n").filter(Boolean);
const run = (script: string) =>
  spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ROOT: join(dir, "root") } });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "package-cache-"));
  bin = join(dir, "stub-bin");
  mkdirSync(bin);
  writeFileSync(join(dir, "calls.log"), "");
  // dpkg-query finds no apt-cacher-ng the first time.
  for (const s of ["apt-get", "systemctl", "chown", "dpkg-query"]) stubTool(bin, `${dir}/calls.log`, s, s === "dpkg-query" ? "exit 1" : "");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the package cache's install script", () => {
  it("installs apt-cacher-ng, writes its files and restarts it only when they changed", () => {
    const script = renderPackageCacheInstallScript("10.10.0.14");
    const first = run(script);
    expect(first.status, first.stderr).toBe(0);
    expect(calls()).toEqual(expect.arrayContaining(["apt-get install -y -q --no-install-recommends apt-cacher-ng", "systemctl restart apt-cacher-ng"]));
    for (const [file, content] of Object.entries(packageCacheFiles("10.10.0.14"))) {
      expect(readFileSync(join(dir, "root", PACKAGE_CACHE_CONFIG_DIR, file), "utf8")).toBe(content);
    }
    writeFileSync(join(dir, "calls.log"), "");
    stubTool(bin, `${dir}/calls.log`, "dpkg-query", 'echo "install ok installed"');
    expect(run(script).status).toBe(0);
    expect(calls()).not.toContain("systemctl restart apt-cacher-ng");
    expect(calls()).toContain("systemctl start apt-cacher-ng");
  });

  it("is read by apt-cacher-ng as meant: its address, managed archives only, no tunnels", () => {
    const conf = join(dir, "conf");
    mkdirSync(conf);
    // The package's own files (what the container has after apt-get install), then ours.
    for (const f of readdirSync("/etc/apt-cacher-ng")) if (f.endsWith(".conf")) copyFileSync(join("/etc/apt-cacher-ng", f), join(conf, f));
    for (const [f, content] of Object.entries(packageCacheFiles("10.10.0.14"))) writeFileSync(join(conf, f), content);
    const r = spawnSync(tool("acngtool"), ["cfgdump", "-c", conf], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const value = (key: string) => r.stdout.match(new RegExp(`^${key} = (.*)$`, "m"))?.[1];
    expect({ port: value("Port"), bind: value("BindAddress"), managed: value("ForceManaged"), pass: value("PassThroughPattern") }).toEqual({
      port: "3142",
      bind: "10.10.0.14",
      managed: "1",
      pass: "^$",
    });
  });
});

describe("a guest's apt proxy", () => {
  it("points apt's http:// sources at the cache, and a second run changes nothing", () => {
    const script = renderAptProxyScript("http://10.10.0.14:3142");
    expect(run(script).status).toBe(0);
    expect(readFileSync(join(dir, "root/etc/apt/apt.conf.d/01ai-dualstack-proxy"), "utf8")).toContain('Acquire::http::Proxy "http://10.10.0.14:3142";');
    const again = run(`${script.replace(/echo "apt: through[^\n]*\n$/, "")}echo "changed=$changed"`);
    expect(again.stdout.trim()).toBe("changed=0");
  });
});
