// Vault's install script, run for real by bash against a temporary root with apt-get, gpg, curl, chown and
// systemctl replaced by stubs that record their arguments; and the rendered configuration.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pemBlock, stubTool } from "../helpers/script-stubs";
import { auditLogPaths, HASHICORP_KEY_FINGERPRINTS, renderVaultConfig, renderVaultInstallScript, tlsBundle } from "../../lib/vault/server";

const KEY = pemBlock("PRIVATE KEY", "vault-key-material");
const CERT = pemBlock("CERTIFICATE", "vault-certificate");
const CA = pemBlock("CERTIFICATE", "platform-ca");
const LAYOUT = { ip: "10.10.0.10", dataPath: "/var/lib/vault", nodeId: "platform-security", version: "1.21.4", aptKeyFingerprints: HASHICORP_KEY_FINGERPRINTS };

let root: string;
let bin: string;

const stub = (name: string, body: string) => stubTool(bin, "$ROOT/calls.log", name, body);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "vault-install-"));
  bin = join(root, "stub-bin");
  mkdirSync(bin);
  mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
  mkdirSync(join(root, "usr/share/keyrings"), { recursive: true });
  writeFileSync(join(root, "etc/os-release"), "ID=debian\nVERSION_CODENAME=bookworm\n");
  stub("vault", 'if [ -f "$ROOT/installed" ]; then echo "Vault v1.21.4 (abc), built 2026-01-01T00:00:00Z"; else exit 127; fi');
  stub("apt-get", 'case "$*" in *vault=*) touch "$ROOT/installed";; esac');
  stub("apt-mark", "");
  stub("chown", "");
  stub("systemctl", "");
  stub("sleep", "");
  stub("curl", 'case "$*" in *sys/health*) printf %s "${HEALTH:-501}";; *) echo "fake key";; esac');
  // gpg: --dearmor writes the keyring; --fingerprint prints one primary key with $FPR.
  stub(
    "gpg",
    'case "$*" in *--dearmor*) out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done; cat > /dev/null; echo keyring > "$out";; *--fingerprint*) printf "pub:-:4096:1:AA16FCBCA621E701:1673308800:::-:::scSC::::::23::0:\\nfpr:::::::::%s:\\n" "$FPR";; esac',
  );
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function install(stdin: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", renderVaultInstallScript(LAYOUT)], {
    input: stdin,
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root, FPR: HASHICORP_KEY_FINGERPRINTS[0], ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}
const calls = () => (existsSync(join(root, "calls.log")) ? readFileSync(join(root, "calls.log"), "utf8").trim().split("\n") : []);
const at = (path: string) => join(root, path);

describe("Vault install script", () => {
  it("installs the pinned package after checking the repository key, and writes config, key and certificates", () => {
    const r = install(tlsBundle(KEY, CERT, CA));
    expect(r.out).toContain("vault: not initialised");
    expect(r.code).toBe(0);
    expect(calls()).toContain("apt-get install -y -q --allow-downgrades vault=1.21.4-1");
    expect(calls()).toContain("apt-mark hold vault");
    expect(readFileSync(at("etc/apt/sources.list.d/hashicorp.list"), "utf8")).toContain("https://apt.releases.hashicorp.com bookworm main");
    expect(readFileSync(at("etc/vault.d/vault.hcl"), "utf8")).toBe(renderVaultConfig(LAYOUT));
    expect(readFileSync(at("etc/vault.d/tls/vault.key"), "utf8")).toBe(KEY);
    expect(readFileSync(at("etc/vault.d/tls/vault.crt"), "utf8")).toBe(CERT);
    expect(readFileSync(at("etc/vault.d/tls/ca.crt"), "utf8")).toBe(CA);
    expect(statSync(at("etc/vault.d/tls/vault.key")).mode & 0o777).toBe(0o640);
    expect(calls()).toContain(`chown root:vault ${root}/etc/vault.d/tls/vault.key`);
    expect(readFileSync(at("etc/systemd/system/vault.service.d/ai-dualstack.conf"), "utf8")).toContain("LimitCORE=0");
    for (const a of auditLogPaths("/var/lib/vault")) expect(statSync(at(a.path.replace(/\/[^/]+$/, ""))).mode & 0o777).toBe(0o700);
    expect(statSync(at("var/lib/vault/raft")).isDirectory()).toBe(true);
    expect(calls()).toContain("systemctl restart vault");
  });

  it("a second run with nothing changed starts Vault without restarting it (a restart seals it)", () => {
    expect(install(tlsBundle(KEY, CERT, CA)).code).toBe(0);
    rmSync(at("calls.log"));
    const again = install(tlsBundle(KEY, CERT, CA), { HEALTH: "200" });
    expect(again.out).toContain("vault: unsealed");
    expect(calls().filter((c) => c.startsWith("apt-get"))).toEqual([]);
    expect(calls()).toContain("systemctl start vault");
    expect(calls()).not.toContain("systemctl restart vault");
  });

  it("a renewed certificate is written and Vault restarted", () => {
    install(tlsBundle(KEY, CERT, CA));
    rmSync(at("calls.log"));
    const renewed = pemBlock("CERTIFICATE", "renewed");
    expect(install(tlsBundle(KEY, renewed, CA), { HEALTH: "503" }).out).toContain("vault: sealed");
    expect(readFileSync(at("etc/vault.d/tls/vault.crt"), "utf8")).toBe(renewed);
    expect(calls()).toContain("systemctl restart vault");
  });

  it("refuses a repository key with another fingerprint, and removes it", () => {
    const r = install(tlsBundle(KEY, CERT, CA), { FPR: "0".repeat(40) });
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `HashiCorp's apt key has the fingerprint ${"0".repeat(40)}, not one of ${HASHICORP_KEY_FINGERPRINTS.join(", ")}: refusing to install`,
    );
    expect(existsSync(at("usr/share/keyrings/hashicorp-archive-keyring.gpg"))).toBe(false);
    expect(calls().some((c) => c.includes("vault=1.21.4"))).toBe(false);
  });

  it("refuses an incomplete TLS bundle before writing anything", () => {
    const r = install(tlsBundle(KEY, CERT, ""));
    expect(r.code).toBe(1);
    expect(r.out).toContain("CERTIFICATE 2 is missing");
    expect(existsSync(at("etc/vault.d/vault.hcl"))).toBe(false);
  });

  it("fails when Vault does not answer", () => {
    const r = install(tlsBundle(KEY, CERT, CA), { HEALTH: "000" });
    expect(r.code).toBe(1);
    expect(r.out).toContain("vault: not answering on https://10.10.0.10:8200");
  });
});

describe("Vault server configuration", () => {
  it("listens with TLS 1.3 on its own address and keeps raft on the data volume", () => {
    const hcl = renderVaultConfig(LAYOUT);
    expect(hcl).toContain('tls_min_version = "tls13"');
    expect(hcl).toContain('api_addr      = "https://10.10.0.10:8200"');
    expect(hcl).toContain('path    = "/var/lib/vault/raft"');
    expect(hcl).not.toContain("tls_disable");
  });
});
