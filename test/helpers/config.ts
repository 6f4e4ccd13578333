// Test helpers: the committed stack files as raw config, and a way to edit them by key path.
import { join } from "node:path";
import { readStackFile } from "../../ops/engine";
import type { RawConfig } from "../../lib/config/load";
import { ed25519KeyPair } from "./ssh-keys";

export const ROOT = join(__dirname, "..", "..");

export function stackFile(stack: "host" | "private" | "public"): string {
  return join(ROOT, `Pulumi.${stack}.yaml`);
}

/** The committed config of a stack, with the secrets a real deployment has, set as secrets. */
export function committedConfig(stack: "host" | "private" | "public"): RawConfig {
  const raw = readStackFile(stackFile(stack));
  const values = { ...raw.values };
  const secretKeys = [...raw.secretKeys];
  for (const [k, v] of Object.entries(dummySecrets(stack))) {
    values[`ai-dualstack:${k}`] = v;
    secretKeys.push(`ai-dualstack:${k}`);
  }
  return { values, secretKeys };
}

/**
 * An OpenSSH private key of this process's own (the FirstBoot provider reads the environments' key before it
 * connects: a placeholder would be refused), the same for every call.
 */
let processKey: string | undefined;
const sshKeyOfProcess = () => (processKey ??= ed25519KeyPair().private);

/** Stand-ins for the secrets a real deployment sets (`pulumi config set --secret`), by key. */
export function dummySecrets(stack: "host" | "private" | "public"): Record<string, string> {
  return stack === "host"
    ? {
        proxmoxApiToken: "root@pam!ai-dualstack=11111111-2222-3333-4444-555555555555",
        sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-HOST-KEY\n-----END OPENSSH PRIVATE KEY-----",
        vaultToken: "hvs.test-host-admin-token-3f2a9c7e1b",
        pbsPassword: "pbs-token-secret-5d0c7a9e-1f2b-4c3d-8e9f-0a1b2c3d4e5f",
        // Used where the config names receivers (examples/catalog): a URL's origin is plain, its path is the secret.
        alertSmtpPassword: "smtp-password-6a1f0e9d8c7b",
        alertWebhookUrl: "https://hooks.example.org/services/T0000/B0000/webhook-token-9c8b7a6f5e4d",
        alertHeartbeatUrl: "https://hc-ping.example.org/heartbeat-uuid-3e2d1c0b-a9f8",
      }
    : {
        proxmoxApiToken: `ai-${stack}@pve!deploy=99999999-8888-7777-6666-555555555555`,
        sshPrivateKey: sshKeyOfProcess(),
        vaultRoleId: `${stack}-role-id-0b0e2c5e-5a7f-4d4e-9f3a-1c2d3e4f5a6b`,
        vaultSecretId: `${stack}-secret-id-7c1d9e2f-0a3b-4c5d-8e6f-9a0b1c2d3e4f`,
        resticPassword: `${stack}-restic-password-4e8d2c1b0a9f8e7d6c5b4a39`,
        resticPrivateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-${stack.toUpperCase()}-RESTIC-CLIENT-KEY\n-----END OPENSSH PRIVATE KEY-----`,
        rcloneConfig: `[offsite]\ntype = sftp\nhost = offsite.example.org\nuser = ${stack}-sync\npass = ${stack}-rclone-obscured-pass-7d1e0c9b\n`,
        oauth2ClientSecret: `${stack}-oidc-client-secret-2b7f5e1a9c3d`,
      };
}

/** What to look for to prove secret values are nowhere in plain text: each whole, and each line of a multi-line one. */
export function secretNeedles(values: string[]): string[] {
  return values.flatMap((v) => [v, ...v.split("\n").filter((l) => l.length >= 12 && !l.startsWith("-----"))]);
}

/** Returns a copy of raw with the value at `path` (under the top-level key) replaced or deleted. */
export function edit(raw: RawConfig, key: string, path: (string | number)[], value: unknown | typeof DELETE): RawConfig {
  const full = `ai-dualstack:${key}`;
  const values = { ...raw.values };
  if (path.length === 0) {
    if (value === DELETE) delete values[full];
    else values[full] = typeof value === "string" ? value : JSON.stringify(value);
    return { ...raw, values };
  }
  const doc = JSON.parse(values[full]);
  let cur = doc;
  for (const seg of path.slice(0, -1)) cur = cur[seg];
  const last = path[path.length - 1];
  if (value === DELETE) delete cur[last];
  else cur[last] = value;
  values[full] = JSON.stringify(doc);
  return { ...raw, values };
}
export const DELETE = Symbol("delete");
