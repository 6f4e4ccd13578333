// File-level backups end to end, in real guests: a Debian guest stands in for the backup LXC and runs the program's
// server script (its sftp-only SSH daemon, a chrooted account and a repository per environment); another stands in
// for one of the public environment's guests and runs the program's client script, reaching the backup guest at the
// address the program renders (forwarded from its own network to the other guest's, through the host's loopback).
// The client backs up with its own key, another environment's key is refused, and a restore returns the same bytes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resticRemote, resticRepository, resticRoot } from "../../lib/backup/plan";
import {
  RESTIC_SFTP_PORT,
  parseResticDrill,
  renderResticInstallScript,
  renderResticServerScript,
  resticUser,
  type StreamSource,
} from "../../lib/backup/restic";
import { loadConfig } from "../../lib/config/load";
import type { HostConfig } from "../../lib/config/schema";
import { packageCacheFiles, renderAptProxyScript } from "../../lib/package-cache";
import { stdinBundle } from "../../lib/shell";
import { committedConfig } from "../helpers/config";
import { run, tool } from "../helpers/process";
import {
  APT_PROXY,
  asProgram,
  bootVm,
  freePort,
  guestImage,
  lxcStandInUserData,
  startPackageCache,
  testKey,
  waitForFirstBoot,
  type Booted,
  type PackageCache,
} from "./testbed";

/** Where the client guest reaches the backup guest: an address of its own network, forwarded to the other guest. */
const BACKUP_ADDRESS = "10.0.2.101";

const host = loadConfig(committedConfig("host")).config as HostConfig;
const dataPath = host.platform.containers.backup.data!.path;
const root = resticRoot(dataPath);
const dir = mkdtempSync(join(tmpdir(), "guests-restic-"));
/** What the client backs up: a directory of its own, as a stream (the program's sources are dumps and volumes). */
const kept: StreamSource = {
  name: "kept",
  host: "local",
  dump: "tar -C /srv/kept -cf - .",
  load: "mkdir -p /srv/kept && tar -C /srv/kept -xpf -",
  file: "kept.tar",
};
const passwords = { public: "public-restic-Qw7Er9Ty2Ui4Op6A", private: "private-restic-Zx3Cv5Bn7Mm9Lk1J" };
let cache: PackageCache;
let backup: Booted;
let client: Booted;
let sftpPort: number;
let keys: Record<"public" | "private", { privateKey: string; publicKey: string; file: string }>;

function keyPair(name: string) {
  const file = join(dir, `id_${name}`);
  execFileSync(tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", `restic-${name}`, "-f", file]);
  return { privateKey: readFileSync(file, "utf8"), publicKey: readFileSync(`${file}.pub`, "utf8").trim(), file };
}

beforeAll(async () => {
  const [image, key] = await Promise.all([guestImage(), testKey(dir)]);
  cache = await startPackageCache(dir, packageCacheFiles("127.0.0.1"));
  sftpPort = await freePort();
  keys = { public: keyPair("public"), private: keyPair("private") };
  const guest = (name: string, extra: object) =>
    bootVm(
      {
        dir: join(dir, name),
        instanceId: `iid-${name}-1`,
        hostname: name,
        userData: lxcStandInUserData(key.publicKey),
        dataDisk: join(dir, `${name}-unused.qcow2`),
        dataDiskGiB: 1,
        cachePort: cache.port,
        ...extra,
      },
      image,
      key,
    );
  [backup, client] = await Promise.all([
    guest("platform-backup", { forwards: { [RESTIC_SFTP_PORT]: sftpPort } }),
    guest("public-postgres", { guestForwards: [{ address: BACKUP_ADDRESS, port: RESTIC_SFTP_PORT, hostPort: sftpPort }] }),
  ]);
  await Promise.all([waitForFirstBoot(backup, { user: "root" }), waitForFirstBoot(client, { user: "root" })]);
  // The host stack's ResticServer: per repository its password and its clients' public key, one per line.
  const repos = (["public", "private"] as const).map((env) => resticRepository(env, `${root}/${env}/repo`, host.backup.restic, []));
  await Promise.all([asProgram(backup, renderAptProxyScript(APT_PROXY)), asProgram(client, renderAptProxyScript(APT_PROXY))]);
  await asProgram(
    backup,
    renderResticServerScript(root, repos),
    (["public", "private"] as const).map((env) => `${passwords[env]}\n${keys[env].publicKey}\n`).join(""),
  );
  // The environment stack's client: the repository password and the environment's private key on stdin.
  await asProgram(client, clientScript(), stdinBundle({ secretLine: passwords.public, pems: [keys.public.privateKey] }));
});

const clientScript = () => renderResticInstallScript(resticRepository("public", resticRemote("public", BACKUP_ADDRESS), host.backup.restic, [kept]), "client");

afterAll(async () => {
  await Promise.all([backup?.stop(), client?.stop()]);
  await cache?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Options of an ssh or sftp session from the host to the backup guest's forwarded port, with `keyFile`. */
const sessionOptions = (keyFile: string) => ["-i", keyFile, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];

/** An sftp session to a repository account from the host (through the forwarded port), with `key`. */
const sftp = (user: string, keyFile: string, commands: string) =>
  run("sftp", [...sessionOptions(keyFile), "-P", String(sftpPort), "-b", "-", `${user}@127.0.0.1`], { input: commands });

describe("restic backups between real guests", () => {
  it("the client backs up over sftp with its own key, and a restore returns the same bytes", async () => {
    await asProgram(client, "mkdir -p /srv/kept && head -c 300000 /dev/urandom > /srv/kept/data.bin && echo hello > /srv/kept/note.txt");
    const before = await asProgram(client, "cd /srv/kept && sha256sum data.bin note.txt");
    await asProgram(client, "systemctl start ai-dualstack-restic-backup-public.service");
    expect(await asProgram(client, "systemctl show -p Result --value ai-dualstack-restic-backup-public.service")).toBe("success\n");
    const list = await asProgram(client, "/usr/local/sbin/ai-dualstack-restic-restore-public --list");
    expect(list).toMatch(/\bkept\b/);
    // The restore drill's read-back (what `drill restore` asks of the GPU VM): the snapshot read in full over sftp,
    // its sha256 the same as a dump of the source made now, since nothing changed; nothing written.
    const tarNow = await asProgram(client, "tar -C /srv/kept -cf - . | sha256sum | cut -d' ' -f1");
    const [read] = parseResticDrill(await asProgram(client, "/usr/local/sbin/ai-dualstack-restic-restore-public --drill"));
    expect(read).toMatchObject({ source: "kept", status: "ok", sha256: tarNow.trim(), live: tarNow.trim() });
    expect(read.status === "ok" && read.bytes).toBeGreaterThan(300_000);
    expect(read.status === "ok" && Math.abs(Date.now() / 1000 - read.time)).toBeLessThan(900);
    await asProgram(client, "rm -rf /srv/kept");
    expect(await asProgram(client, "/usr/local/sbin/ai-dualstack-restic-restore-public kept")).toContain("kept restored");
    expect(await asProgram(client, "cd /srv/kept && sha256sum data.bin note.txt")).toBe(before);
  });

  it("the repository account is sftp only, chrooted to its own repository", async () => {
    const listing = await sftp(resticUser("public"), keys.public.file, "ls -1 /\n");
    expect(listing.code, listing.all).toBe(0);
    expect(listing.stdout.split("\n").filter((l) => l && !l.startsWith("sftp>"))).toEqual(["/repo"]);
    const shell = await run("ssh", [...sessionOptions(keys.public.file), "-p", String(sftpPort), `${resticUser("public")}@127.0.0.1`, "id"]);
    expect(shell.stdout).not.toContain("uid=");
  });

  it("another environment's key is refused by this repository's account", async () => {
    const other = await sftp(resticUser("public"), keys.private.file, "ls /\n");
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/Permission denied \(publickey\)/);
  });
});
