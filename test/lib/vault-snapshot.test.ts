// Vault's raft snapshots into restic: the snapshot script logs in with the snapshot AppRole (its SecretID on curl's
// stdin, never on a command line), saves a snapshot with the short-lived token and streams it; the real restic
// stores it through the project's backup script and restores it through the restore script, byte for byte, into
// `vault operator raft snapshot restore`. Vault itself is a stand-in here (it cannot be built on this machine: the
// integration issue tracks a real one).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderResticBackupScript, renderResticRestoreScript, type ResticRepository } from "../../lib/backup/restic";
import {
  renderRestoreScript,
  renderSnapshotInstallScript,
  renderSnapshotScript,
  snapshotAppRoleSettings,
  snapshotPolicy,
  VAULT_SNAPSHOT_SOURCE,
} from "../../lib/vault/snapshot";
import { stubTool } from "../helpers/script-stubs";

let dir: string;
let bin: string;
let log: string;
let env: Record<string, string>;
const SECRET_ID = "5e3c0b1a-secret-id-never-in-argv";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vault-snapshot-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
  log = join(dir, "calls.log");
  writeFileSync(log, "");
  writeFileSync(join(dir, "approle"), `role-1234\n${SECRET_ID}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "snapshot.bin"), randomBytes(256 * 1024));
  // curl: the AppRole login; answers a token only for the right credentials on stdin.
  stubTool(
    bin,
    log,
    "curl",
    `body="$(cat)"; echo "stdin: $body" >> "${dir}/curl-stdin.log"
case "$body" in *'"role_id":"role-1234"'*'"secret_id":"${SECRET_ID}"'*) echo '{"auth":{"client_token":"hvb.batch-token"}}' ;; *) echo '{"errors":["invalid role or secret ID"]}'; exit 22 ;; esac`,
  );
  // vault: save writes the snapshot (with the token from the environment only), restore keeps what it got.
  // argv: operator raft snapshot save FILE | operator raft snapshot restore -force FILE
  stubTool(
    bin,
    log,
    "vault",
    `[ "$VAULT_TOKEN" = "hvb.batch-token" ] || [ "$4" = restore ] || { echo "permission denied" >&2; exit 2; }
case "$4" in save) cp "${dir}/snapshot.bin" "$5" ;; restore) [ "$5" = -force ] && cp "$6" "${dir}/restored.bin" ;; *) exit 64 ;; esac`,
  );
  env = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    AI_DUALSTACK_SNAPSHOT_CREDENTIALS: join(dir, "approle"),
    VAULT_ADDR: "https://10.10.0.10:8200",
    VAULT_CACERT: join(dir, "ca.pem"),
    RESTIC_CACHE_DIR: join(dir, "cache"),
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(script: string, args: string[] = [], extra: Record<string, string> = {}, input?: Buffer | string) {
  const file = join(dir, `s-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script, { mode: 0o700 });
  return spawnSync("bash", [file, ...args], { env: { ...env, ...extra }, input, maxBuffer: 16 * 1024 * 1024 });
}

describe("Vault snapshots", () => {
  it("the AppRole may read raft snapshots only, from the security LXC only", () => {
    expect(snapshotPolicy()).toBe(
      '# Managed by ai-dualstack: raft snapshots for the backups, nothing else.\npath "sys/storage/raft/snapshot" {\n  capabilities = ["read"]\n}\n',
    );
    expect(snapshotAppRoleSettings("10.10.0.10")).toMatchObject({
      token_type: "batch",
      token_ttl: 300,
      secret_id_bound_cidrs: ["10.10.0.10/32"],
      token_bound_cidrs: ["10.10.0.10/32"],
    });
  });

  it("streams a snapshot taken with the AppRole's token; the SecretID never appears on a command line", () => {
    const r = run(renderSnapshotScript("10.10.0.10"));
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(Buffer.compare(r.stdout, readFileSync(join(dir, "snapshot.bin")))).toBe(0);
    expect(readFileSync(log, "utf8")).not.toContain(SECRET_ID);
    expect(readFileSync(join(dir, "curl-stdin.log"), "utf8")).toContain(SECRET_ID);
  });

  it("a refused login fails the stream with nothing on stdout", () => {
    writeFileSync(join(dir, "approle"), "role-1234\nwrong\n");
    const r = run(renderSnapshotScript("10.10.0.10"));
    expect(r.status).not.toBe(0);
    expect(r.stdout.length).toBe(0);
  });

  it("round trip through the real restic: backed up by the project's backup script, restored into vault byte for byte", () => {
    writeFileSync(join(dir, "pw"), "restic password\n", { mode: 0o600 });
    writeFileSync(join(dir, "snapshot-cmd"), renderSnapshotScript("10.10.0.10"), { mode: 0o700 });
    writeFileSync(join(dir, "restore-cmd"), renderRestoreScript("10.10.0.10"), { mode: 0o700 });
    const repo: ResticRepository = {
      name: "platform",
      location: join(dir, "repo"),
      passwordFile: join(dir, "pw"),
      sshKey: "/root/.ssh/x",
      sources: [{ ...VAULT_SNAPSHOT_SOURCE, dump: join(dir, "snapshot-cmd"), load: join(dir, "restore-cmd") }],
      retention: { daily: 7, weekly: 4, monthly: 6 },
      schedule: { backup: "*-*-* 02:30", check: "*-*-* 05:00", forget: "Sun *-*-* 04:00" },
      checkParts: 7,
      metricsDir: join(dir, "metrics"),
    };
    const b = run(renderResticBackupScript(repo));
    expect(b.status, b.stdout.toString() + b.stderr.toString()).toBe(0);
    expect(readFileSync(join(dir, "metrics/backup_platform_vault.prom"), "utf8")).toContain(
      'ai_dualstack_backup_success{repository="platform",source="vault"} 1',
    );
    // Restoring asks for an operator token first.
    const refused = run(renderResticRestoreScript(repo), ["vault", "--to", "local"]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr.toString() + refused.stdout.toString()).toContain("set VAULT_TOKEN to an operator token allowed to restore snapshots");
    const r = run(renderResticRestoreScript(repo), ["vault", "--to", "local"], { VAULT_TOKEN: "hvs.operator-root" });
    expect(r.status, r.stdout.toString() + r.stderr.toString()).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, "restored.bin")), readFileSync(join(dir, "snapshot.bin")))).toBe(0);
  });

  it("the install keeps the credentials root-only and refuses anything but two lines", () => {
    for (const s of ["apt-get", "chown"]) stubTool(bin, log, s, "");
    const root = join(dir, "root");
    const script = renderSnapshotInstallScript("10.10.0.10");
    const ok = run(script, [], { ROOT: root }, `role-1234\n${SECRET_ID}\n`);
    expect(ok.status, ok.stderr.toString()).toBe(0);
    expect(readFileSync(join(root, "etc/ai-dualstack/vault-snapshot.approle"), "utf8")).toBe(`role-1234\n${SECRET_ID}\n`);
    expect(script).not.toContain(SECRET_ID);
    const bad = run(script, [], { ROOT: join(dir, "root2") }, "only-one-line\n");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.toString()).toContain("expected the snapshot AppRole's role_id and SecretID, one per line");
  });
});
