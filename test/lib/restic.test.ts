// The restic scripts the program renders, run by bash with the real restic (Debian's package) on a local repository:
// a directory tree backed up as a stream, restored elsewhere and compared byte for byte; a failing source leaves no
// snapshot; retention; a corrupted repository caught by the check; the install script in a temporary root.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  renderResticBackupScript,
  renderResticCheckScript,
  renderResticForgetScript,
  renderResticInstallScript,
  parseResticDrill,
  renderResticRestoreScript,
  repositoryProblems,
  type ResticRepository,
} from "../../lib/backup/restic";
import { stubTool } from "../helpers/script-stubs";
import { tool } from "../helpers/process";

let dir: string;
let repo: ResticRepository;

function run(script: string, args: string[] = [], env: Record<string, string> = {}, stdin = "") {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script, { mode: 0o700 });
  const r = spawnSync("bash", [file, ...args], {
    input: stdin,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: dir, RESTIC_CACHE_DIR: join(dir, "cache"), AI_DUALSTACK_SSH: join(dir, "fake-ssh"), ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const restic = (...args: string[]) =>
  execFileSync(tool("restic"), ["-r", repo.location, "--password-file", repo.passwordFile, "--no-cache", ...args], { encoding: "utf8" });
const snapshots = (tag?: string) => JSON.parse(restic("snapshots", "--json", ...(tag ? ["--tag", tag] : []))) as { short_id: string; tags: string[] }[];

/** The metrics the scripts leave, linted by the real promtool (Debian's prometheus package). */
function promtoolMetrics(text: string) {
  const r = spawnSync(tool("promtool"), ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw new Error("promtool is not installed: apt-get install prometheus (.ci/run does)");
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Every file under `root` with its mode and content hash, for byte-for-byte comparison. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(root, p)] = `${(statSync(p).mode & 0o777).toString(8)} ${readFileSync(p).toString("base64")}`;
    }
  };
  walk(root);
  return out;
}

/** Flips bytes in the repository's biggest pack file (the tree's data). */
function corruptBiggestPack() {
  const packs: string[] = [];
  const walk = (d: string) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : packs.push(join(d, e.name))));
  walk(join(repo.location, "data"));
  const biggest = packs.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const bytes = readFileSync(biggest);
  for (let i = 1000; i < 1100; i++) bytes[i] ^= 0xff;
  writeFileSync(biggest, bytes);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "restic-"));
  const src = join(dir, "src");
  mkdirSync(join(src, "models/blobs"), { recursive: true });
  writeFileSync(join(src, "models/blobs/sha256-1"), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(src, "models/manifest.json"), JSON.stringify({ layers: ["sha256-1"] }));
  writeFileSync(join(src, "secret.key"), "k", { mode: 0o600 });
  writeFileSync(join(dir, "db.sql"), "CREATE TABLE t (x int);\n");
  writeFileSync(join(dir, "pw"), "correct horse battery staple\n", { mode: 0o600 });
  // SSH stand-in: runs the remote command here, as the real one runs it on the source host.
  writeFileSync(join(dir, "fake-ssh"), `#!/bin/bash\necho "$*" >> "${dir}/ssh.log"\nexec bash -c "\${@: -1}"\n`);
  chmodSync(join(dir, "fake-ssh"), 0o755);
  repo = {
    name: "public",
    location: join(dir, "repo"),
    passwordFile: join(dir, "pw"),
    sshKey: "/root/.ssh/ai-dualstack-backup",
    sources: [
      {
        name: "volume-qdrant-data",
        host: "ops@10.30.0.10",
        dump: `tar -C ${src} -cf - .`,
        load: 'mkdir -p "$RESTORE_TO" && tar -C "$RESTORE_TO" -xf -',
        file: "qdrant-data.tar",
      },
      { name: "postgres", host: "local", dump: `cat ${join(dir, "db.sql")}`, load: `cat > "$RESTORE_TO.sql"`, file: "postgres.sql" },
    ],
    retention: { daily: 7, weekly: 4, monthly: 6 },
    schedule: { backup: "*-*-* 02:30", check: "*-*-* 05:00", forget: "Sun *-*-* 04:00" },
    checkParts: 7,
    metricsDir: join(dir, "metrics"),
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("restic backup and restore", () => {
  it("initialises the repository, streams every source into its own snapshot and restores a tree byte for byte elsewhere", () => {
    const b = run(renderResticBackupScript(repo));
    expect(b.out).toContain("initialising");
    expect(b.code).toBe(0);
    expect(
      snapshots()
        .map((s) => s.tags[0])
        .sort(),
    ).toEqual(["postgres", "volume-qdrant-data"]);
    // Reached over SSH with the backup key, host keys checked.
    expect(readFileSync(join(dir, "ssh.log"), "utf8")).toContain("-i /root/.ssh/ai-dualstack-backup -o BatchMode=yes -o StrictHostKeyChecking=yes");
    const metrics = readFileSync(join(repo.metricsDir, "backup_public_postgres.prom"), "utf8");
    expect(metrics).toMatch(
      /\nai_dualstack_backup_success\{repository="public",source="postgres"\} 1\n[^]*\nai_dualstack_backup_last_success_timestamp_seconds\{repository="public",source="postgres"\} \d{10}\n$/,
    );
    expect(promtoolMetrics(metrics)).toEqual({ code: 0, out: "" });

    const target = join(dir, "restored");
    const r = run(renderResticRestoreScript(repo), ["volume-qdrant-data", "--to", "local"], { RESTORE_TO: target });
    expect(r.out).toContain("volume-qdrant-data restored");
    expect(r.code).toBe(0);
    expect(tree(target)).toEqual(tree(join(dir, "src")));
    expect(Object.keys(tree(target))).toHaveLength(3);

    // A named snapshot, onto the source's own host (over SSH).
    const snap = snapshots("postgres")[0].short_id;
    expect(run(renderResticRestoreScript(repo), ["postgres", snap], { RESTORE_TO: join(dir, "again") }).code).toBe(0);
    expect(readFileSync(join(dir, "again.sql"), "utf8")).toBe("CREATE TABLE t (x int);\n");
  });

  it("a failing source leaves no snapshot, keeps its last success time, and fails the run; the others are backed up", () => {
    expect(run(renderResticBackupScript(repo)).code).toBe(0);
    const before = readFileSync(join(repo.metricsDir, "backup_public_postgres.prom"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("ai_dualstack_backup_last_success"));
    // The dump dies half way: restic would store the half as a good snapshot.
    const broken = { ...repo, sources: repo.sources.map((s) => (s.name === "postgres" ? { ...s, dump: `head -c 100 ${join(dir, "db.sql")}; exit 3` } : s)) };
    const b = run(renderResticBackupScript(broken));
    expect(b.code).toBe(1);
    expect(b.out).toContain("postgres FAILED (dump exit 3, restic exit 0)");
    expect(snapshots("postgres")).toHaveLength(1);
    expect(snapshots("volume-qdrant-data")).toHaveLength(2);
    const failed = readFileSync(join(repo.metricsDir, "backup_public_postgres.prom"), "utf8");
    expect(failed.split("\n").filter((l) => !l.startsWith("#"))).toEqual(['ai_dualstack_backup_success{repository="public",source="postgres"} 0', before, ""]);
    expect(promtoolMetrics(failed)).toEqual({ code: 0, out: "" });
    // Restoring "latest" still gives the last good dump.
    expect(run(renderResticRestoreScript(repo), ["postgres", "--to", "local"], { RESTORE_TO: join(dir, "x") }).code).toBe(0);
    expect(readFileSync(join(dir, "x.sql"), "utf8")).toBe("CREATE TABLE t (x int);\n");
  });

  it("retention forgets per source and prunes", () => {
    for (let i = 0; i < 3; i++) expect(run(renderResticBackupScript(repo)).code).toBe(0);
    expect(snapshots()).toHaveLength(6);
    const f = run(renderResticForgetScript({ ...repo, retention: { daily: 1, weekly: 0, monthly: 0 } }));
    expect(f.code).toBe(0);
    expect(
      snapshots()
        .map((s) => s.tags[0])
        .sort(),
    ).toEqual(["postgres", "volume-qdrant-data"]);
  });

  it("the restore drill reads every source's latest snapshot back, writing nothing: its size and sha256, and the live dump's for its own sources", () => {
    expect(run(renderResticBackupScript(repo)).code).toBe(0);
    const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
    const tarball = execFileSync("tar", ["-C", join(dir, "src"), "-cf", "-", "."], { maxBuffer: 64 * 1024 * 1024 });
    const live = { postgres: sha(readFileSync(join(dir, "db.sql"))), tree: sha(tarball) };
    const d = run(renderResticRestoreScript(repo), ["--drill"]);
    expect(d.code, d.out).toBe(0);
    const lines = parseResticDrill(d.out).sort((a, b) => a.source.localeCompare(b.source));
    const now = Date.now() / 1000;
    expect(lines.map((l) => (l.status === "ok" ? [l.source, l.bytes, l.sha256, l.live] : [l.source, l.status]))).toEqual([
      ["postgres", 24, live.postgres, live.postgres],
      ["volume-qdrant-data", tarball.length, live.tree, live.tree],
    ]);
    for (const l of lines) if (l.status === "ok") expect(Math.abs(now - l.time)).toBeLessThan(120);
    expect(readdirSync(dir).filter((f) => f.startsWith("restored") || (f.endsWith(".sql") && f !== "db.sql"))).toEqual([]);

    // A source that changed since its snapshot: the read-back still matches the snapshot, the live dump differs. A
    // machine that does not hold a source reads it back without a live dump.
    writeFileSync(join(dir, "db.sql"), "CREATE TABLE t (x int, y int);\n");
    const changed = parseResticDrill(run(renderResticRestoreScript(repo), ["--drill"]).out).find((l) => l.source === "postgres")!;
    expect(changed).toMatchObject({ status: "ok", sha256: live.postgres });
    expect(changed.status === "ok" && changed.live).not.toBe(live.postgres);
    const other = { ...repo, sources: repo.sources.filter((s) => s.name === "postgres") };
    const fromOther = parseResticDrill(run(renderResticRestoreScript(other), ["--drill"]).out).find((l) => l.source === "volume-qdrant-data")!;
    expect(fromOther).toMatchObject({ status: "ok", sha256: live.tree });
    expect(fromOther).not.toHaveProperty("live");
  });

  it("the restore drill names the source whose snapshot cannot be read back, and fails; an empty repository fails too", () => {
    expect(run(renderResticBackupScript(repo)).code).toBe(0);
    corruptBiggestPack();
    const d = run(renderResticRestoreScript(repo), ["--drill"]);
    expect(d.code).toBe(1);
    const lines = parseResticDrill(d.out);
    expect(lines.find((l) => l.source === "volume-qdrant-data")).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^snapshot [0-9a-f]{8}: \/qdrant-data\.tar could not be read back$/),
    });
    expect(lines.find((l) => l.source === "postgres")).toMatchObject({ status: "ok" });

    const empty = { ...repo, location: join(dir, "empty-repo") };
    execFileSync(tool("restic"), ["-r", empty.location, "--password-file", repo.passwordFile, "init"], { stdio: "pipe" });
    const none = run(renderResticRestoreScript(empty), ["--drill"]);
    expect(none.code).toBe(1);
    expect(parseResticDrill(none.out)).toEqual([{ source: "-", status: "failed", reason: "no snapshot in the repository" }]);
  });

  it("reads the drill's lines and refuses a malformed one", () => {
    const sum = "a".repeat(64);
    expect(parseResticDrill(`restic progress\ndrill\tredis\tok\tabc\t1800000000\t10\t${sum}\t5\t-\n`)).toEqual([
      { source: "redis", status: "ok", snapshot: "abc", time: 1800000000, bytes: 10, sha256: sum, milliseconds: 5 },
    ]);
    expect(() => parseResticDrill("drill\tredis\tok\tabc\tyesterday\t10\tx\t5\t-")).toThrow(/restore --drill printed a line it should not/);
  });

  it("the check reads the data back and catches a corrupted pack file", () => {
    expect(run(renderResticBackupScript(repo)).code).toBe(0);
    const whole = { ...repo, checkParts: 1 };
    expect(run(renderResticCheckScript(whole)).code).toBe(0);
    expect(readFileSync(join(repo.metricsDir, "check_public.prom"), "utf8")).toContain('ai_dualstack_restic_check_success{repository="public"} 1');
    expect(promtoolMetrics(readFileSync(join(repo.metricsDir, "check_public.prom"), "utf8"))).toEqual({ code: 0, out: "" });
    corruptBiggestPack();
    const c = run(renderResticCheckScript(whole));
    expect(c.code).toBe(1);
    expect(c.out).toContain("CHECK FAILED");
    expect(readFileSync(join(repo.metricsDir, "check_public.prom"), "utf8")).toContain('ai_dualstack_restic_check_success{repository="public"} 0');
  });

  it("refuses to run without its password file, and a wrong source name", () => {
    expect(run(renderResticBackupScript({ ...repo, passwordFile: join(dir, "missing") })).code).toBe(2);
    const r = run(renderResticRestoreScript(repo), ["ghost"]);
    expect(r.code).toBe(2);
    expect(r.out).toContain("unknown source ghost");
  });
});

describe("restic repository definitions", () => {
  it("names every problem by key", () => {
    expect(repositoryProblems(repo)).toEqual([]);
    const bad = {
      ...repo,
      name: "Public",
      retention: { daily: 0, weekly: 0, monthly: 0 },
      sources: [repo.sources[0], { ...repo.sources[0], file: "../x", dump: "echo 'hi'" }],
    };
    expect(repositoryProblems(bad)).toEqual([
      'name: expected a lower-case name such as "public", got "Public"',
      "sources[1].name: volume-qdrant-data is defined twice",
      'sources[1].file: expected a plain file name, got "../x"',
      "sources[1].dump: expected one command line without single quotes",
      "retention: keeps nothing; expected at least one daily, weekly or monthly snapshot",
    ]);
    expect(() => renderResticBackupScript(bad)).toThrow(/^restic repository "Public": name: /);
  });
});

describe("restic install script", () => {
  it("writes the password root-only from stdin, the scripts and the timers, and enables the timers", () => {
    const bin = join(dir, "stub-bin");
    mkdirSync(bin);
    writeFileSync(join(dir, "calls.log"), "");
    for (const s of ["apt-get", "systemctl", "chown"]) stubTool(bin, join(dir, "calls.log"), s, "");
    stubTool(bin, join(dir, "calls.log"), "restic", "");
    const root = join(dir, "root");
    const script = renderResticInstallScript({ ...repo, passwordFile: "/etc/ai-dualstack/restic-public.pw" });
    expect(script).not.toContain("correct horse");
    const r = spawnSync("bash", ["-c", script], {
      input: "correct horse battery staple\n",
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root },
    });
    expect(r.status, r.stderr).toBe(0);
    const pw = join(root, "etc/ai-dualstack/restic-public.pw");
    expect(readFileSync(pw, "utf8")).toBe("correct horse battery staple\n");
    expect(statSync(pw).mode & 0o777).toBe(0o600);
    for (const what of ["backup", "check", "forget", "restore"]) expect(existsSync(join(root, `usr/local/sbin/ai-dualstack-restic-${what}-public`))).toBe(true);
    expect(readFileSync(join(root, "etc/systemd/system/ai-dualstack-restic-backup-public.timer"), "utf8")).toContain("OnCalendar=*-*-* 02:30\nPersistent=true");
    const calls = readFileSync(join(dir, "calls.log"), "utf8");
    expect(calls).toContain("systemctl enable --now ai-dualstack-restic-check-public.timer");
    expect(spawnSync("bash", ["-c", script], { input: "", encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root } }).stderr).toContain(
      "stdin: expected the password on the first line",
    );
  });

  it("the units pass systemd-analyze verify", () => {
    const units = join(dir, "units");
    mkdirSync(units);
    const script = renderResticInstallScript(repo);
    const unitFiles = [...script.matchAll(/put "\/etc\/systemd\/system\/([^"]+)" 0644 root:root <<'AI_DUALSTACK_EOF'\n([\s\S]*?)AI_DUALSTACK_EOF/g)];
    expect(unitFiles.map((m) => m[1])).toHaveLength(6);
    for (const [, name, content] of unitFiles) writeFileSync(join(units, name), content.replace(/^ExecStart=.*$/m, "ExecStart=/bin/true"));
    const r = spawnSync(tool("systemd-analyze"), ["verify", ...unitFiles.map((m) => join(units, m[1]))], { encoding: "utf8" });
    expect(r.error, "systemd-analyze is not installed").toBeUndefined();
    expect(r.stderr.split("\n").filter((l) => l.includes(units))).toEqual([]);
  });
});

describe("restic server (the backup LXC)", () => {
  it("creates a chrooted sftp account per repository, initialises the repository with its password, and its maintenance timers", async () => {
    const { renderResticServerScript, resticUser } = await import("../../lib/backup/restic");
    const bin = join(dir, "stub-bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    writeFileSync(log, "");
    for (const s of ["apt-get", "systemctl", "chown", "useradd", "usermod", "sshd"]) stubTool(bin, log, s, "");
    stubTool(bin, log, "id", "exit 1");
    // runuser -u USER -- CMD…: runs CMD (as root here).
    stubTool(bin, log, "runuser", 'shift 3; exec "$@"');
    const root = join(dir, "root");
    const repoOf = (name: string) => ({
      ...repo,
      name,
      sources: [],
      location: `/srv/backup/restic/${name}/repo`,
      passwordFile: `/etc/ai-dualstack/restic-${name}.pw`,
    });
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWJhY2t1cC1rZXktbm90LXJlYWw= backup@private";
    const script = renderResticServerScript("/srv/backup/restic", [repoOf("private"), repoOf("public")]);
    const stdin = (pwPrivate: string, pwPublic: string) => `${pwPrivate}\n${key}\n${pwPublic}\n${key.replace("private", "public")}\n`;
    const run = (stdin: string) =>
      spawnSync("bash", ["-c", script], {
        input: stdin,
        encoding: "utf8",
        env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root, HOME: dir, RESTIC_CACHE_DIR: join(dir, "cache") },
      });
    const r = run(stdin("pw-private-0123456789", "pw-public-0123456789"));
    expect(r.status, r.stderr).toBe(0);
    expect(script).not.toContain("pw-private");
    // The repositories answer to their own passwords only.
    const cat = (name: string, pw: string) =>
      spawnSync(tool("restic"), ["-r", join(root, `srv/backup/restic/${name}/repo`), "--no-cache", "cat", "config"], {
        env: { ...process.env, RESTIC_PASSWORD: pw },
      }).status;
    expect(cat("private", "pw-private-0123456789")).toBe(0);
    expect(cat("public", "pw-public-0123456789")).toBe(0);
    expect(cat("public", "pw-private-0123456789")).not.toBe(0);
    expect(readFileSync(join(root, "etc/ai-dualstack/restic-public.pw"), "utf8")).toBe("pw-public-0123456789\n");
    expect(statSync(join(root, "etc/ai-dualstack/restic-public.pw")).mode & 0o777).toBe(0o400);
    expect(readFileSync(join(root, `home/${resticUser("public")}/.ssh/authorized_keys`), "utf8")).toBe(`restrict ${key.replace("private", "public")}\n`);
    const sshd = readFileSync(join(root, "etc/ssh/sshd_restic_config"), "utf8");
    expect(sshd).toContain("Port 2222\n");
    expect(sshd).toContain("AllowUsers restic-private restic-public\n");
    // Where the script writes the keys (outside the chroots): sshd would otherwise look in the account's home, the chroot.
    expect(sshd).toContain("AuthorizedKeysFile /home/%u/.ssh/authorized_keys\n");
    expect(sshd).toContain("Match User restic-private\n  ChrootDirectory /srv/backup/restic/private\n  ForceCommand internal-sftp -d /repo\n");
    // Maintenance only on the server, as the repository's account; no backup timer there.
    expect(readFileSync(join(root, "etc/systemd/system/ai-dualstack-restic-forget-public.service"), "utf8")).toContain("User=restic-public\n");
    expect(existsSync(join(root, "etc/systemd/system/ai-dualstack-restic-backup-public.timer"))).toBe(false);
    const calls = readFileSync(log, "utf8");
    expect(calls).toContain("systemctl enable --now ai-dualstack-restic-check-private.timer");
    expect(calls).toContain(`sshd -t -f ${root}/etc/ssh/sshd_restic_config`);
    // Not a locked account: the daemon runs without PAM, and sshd refuses a locked one even with its key.
    expect(calls).toContain("usermod -p * restic-public");
    expect(calls).toContain("systemctl restart ai-dualstack-restic-sftp.service");
    // A second run initialises nothing again; a missing password stops before anything.
    expect(run(stdin("pw-private-0123456789", "pw-public-0123456789")).status).toBe(0);
    const missing = run(`only-one-password-0123\n${key}\n`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("expected the password of repository public on line 3");
    const badKey = run("pw-private-0123456789\nnot a key\n");
    expect(badKey.stderr).toContain("expected the OpenSSH public key of repository private's clients on line 2");
    // A wrong password for an existing repository: refused, the repository untouched.
    const wrong = run(stdin("pw-private-0123456789", "something-else-0123456"));
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(
      "restic public: the password given does not open the existing repository at /srv/backup/restic/public/repo; it is left as it is",
    );
    expect(cat("public", "pw-public-0123456789")).toBe(0);
    expect(readFileSync(join(root, "etc/ai-dualstack/restic-public.pw"), "utf8")).toBe("pw-public-0123456789\n");
    expect(() => renderResticServerScript("/srv/backup/restic", [{ ...repoOf("x"), location: "/elsewhere/repo" }])).toThrow(
      /expected its location at \/srv\/backup\/restic\/x\/repo/,
    );
  });

  it("a client of an sftp repository reaches it with its own key", async () => {
    // Every restic call goes through the function that sets the sftp command (an exec would bypass it: port 22).
    expect(renderResticRestoreScript({ ...repo, location: "sftp:restic-public@10.10.0.13:/repo" })).not.toMatch(/exec (command )?restic/);
    const script = renderResticBackupScript({ ...repo, location: "sftp:restic-public@10.10.0.13:/repo" });
    expect(script).toContain(
      'restic() { command restic -o sftp.command="ssh -i /root/.ssh/ai-dualstack-backup -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15 restic-public@10.10.0.13 -s sftp" "$@"; }',
    );
  });
});
