// The first-boot check, run by bash over a directory standing in for the guest's root (cloud-init and docker
// stubbed), and the provider's loop against an address where nothing answers. The real guest (test/guests) runs
// the same check through the same provider during a real first boot.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { firstBootProvider } from "../../components/providers/first-boot";
import { FIRST_BOOT_ID_FILE, parseFirstBootCheck, renderFirstBootCheck } from "../../lib/first-boot";
import { stubTool } from "../helpers/script-stubs";
import { freePort } from "../helpers/servers";
import { ed25519KeyPair } from "../helpers/ssh-keys";

let root: string;
let bin: string;
const guest = (status: string, docker = true) => {
  stubTool(bin, `${root}/calls.log`, "cloud-init", `printf 'status: %s\\ndetail:\\nsomething\\n' "${status}"`);
  stubTool(bin, `${root}/calls.log`, "docker", docker ? "echo 24.0.7" : "exit 1");
};
const check = (expectReboot: boolean) => {
  const r = spawnSync("bash", ["--norc", "-c", renderFirstBootCheck({ expectReboot })], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root },
  });
  expect(r.status, r.stderr).toBe(0);
  return parseFirstBootCheck(r.stdout);
};
const file = (path: string, content: string) => (mkdirSync(join(root, path, ".."), { recursive: true }), writeFileSync(join(root, path), content));

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "first-boot-"));
  bin = join(root, "stub-bin");
  mkdirSync(bin);
  file("proc/sys/kernel/random/boot_id", "boot-2\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("the first-boot check", () => {
  it("waits while cloud-init has not finished its last stage, even when its status says done", () => {
    guest("done");
    expect(check(false)).toEqual({ state: "waiting", on: "cloud-init" });
    file("var/lib/cloud/instance/boot-finished", "");
    guest("running");
    expect(check(false)).toEqual({ state: "waiting", on: "cloud-init" });
  });

  it("fails with cloud-init's report when it ended in an error", () => {
    file("var/lib/cloud/instance/boot-finished", "");
    guest("error");
    expect(check(false)).toEqual({ state: "failed", report: "status: error\ndetail:\nsomething" });
  });

  it("waits for the reboot the driver needs: ready only in a boot other than the first", () => {
    file("var/lib/cloud/instance/boot-finished", "");
    guest("done");
    file(FIRST_BOOT_ID_FILE, "boot-2\n");
    expect(check(true)).toEqual({ state: "waiting", on: "reboot" });
    expect(check(false)).toEqual({ state: "ready", bootId: "boot-2" });
    file(FIRST_BOOT_ID_FILE, "boot-1\n");
    expect(check(true)).toEqual({ state: "ready", bootId: "boot-2" });
  });

  it("waits for Docker to answer", () => {
    file("var/lib/cloud/instance/boot-finished", "");
    guest("done", false);
    expect(check(false)).toEqual({ state: "waiting", on: "docker" });
  });

  it("reads an answer it does not know as a reason to wait, saying what it got", () => {
    expect(parseFirstBootCheck("Welcome to Ubuntu\n")).toEqual({ state: "waiting", on: 'an unexpected answer: "Welcome to Ubuntu\\n"' });
  });
});

describe("the FirstBoot provider", () => {
  const privateKey = ed25519KeyPair().private;
  it("keeps trying while nothing answers, then fails naming the guest, the deadline and the last reason", async () => {
    const port = await freePort();
    await expect(
      firstBootProvider.create!({ host: "127.0.0.1", port, user: "ops", privateKey, check: "true", timeoutSeconds: 2, trigger: "t", pollSeconds: 0.2 }),
    ).rejects.toThrow(new RegExp(`the first boot of ops@127\\.0\\.0\\.1:${port} is not over after 2 s \\(last: no SSH session \\(.*ECONNREFUSED`));
  });

  it("fails at once, without showing it, on a key it cannot read", async () => {
    const create = firstBootProvider.create!({
      host: "127.0.0.1",
      user: "ops",
      privateKey: "not-a-key-s3cret",
      check: "true",
      timeoutSeconds: 600,
      trigger: "t",
    });
    await expect(create).rejects.toThrow("the SSH key for ops@127.0.0.1 cannot be read: Unsupported key format");
    await expect(create).rejects.not.toThrow(/s3cret/);
  });

  it("is a new first boot when the VM's user-data or address changes, and nothing else", async () => {
    const olds = { host: "10.30.0.10", user: "ops", check: "c", timeoutSeconds: 60, trigger: "snippet-1", bootId: "b", waitedOn: [] };
    expect(await firstBootProvider.diff!("id", olds, { ...olds, trigger: "snippet-2" })).toMatchObject({ changes: true, replaces: ["trigger"] });
    expect(await firstBootProvider.diff!("id", olds, { ...olds, timeoutSeconds: 90 })).toMatchObject({ changes: true, replaces: [] });
    expect(await firstBootProvider.diff!("id", olds, { ...olds })).toMatchObject({ changes: false });
  });
});
