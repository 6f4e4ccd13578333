// The real Vault of the integration tests (scripts/vault.sh builds it from its Go module), run with the server
// configuration the program renders (raft storage, TLS 1.3 with a certificate from a test CA) on loopback, then
// initialised and unsealed as the README's ceremony does, with one key share.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderVaultConfig, tlsFiles } from "../../lib/vault/server";
import type { TestCa } from "./pki";
import { startProcess, tool } from "./process";
import { Agent, fetch as undiciFetch } from "undici";
import { freePort } from "./servers";

export interface RealVault {
  address: string;
  rootToken: string;
  binary: string;
  /** Calls the HTTP API with the CA. */
  call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startVault(dir: string, ca: TestCa): Promise<RealVault> {
  const port = await freePort();
  const clusterPort = await freePort();
  const configDir = join(dir, "vault.d");
  const tls = tlsFiles(configDir);
  mkdirSync(join(configDir, "tls"), { recursive: true });
  mkdirSync(join(dir, "data/raft"), { recursive: true });
  const cert = ca.issue("vault", { ip: ["127.0.0.1"], dns: ["platform-security"] });
  writeFileSync(tls.cert, cert.certPem);
  writeFileSync(tls.key, cert.keyPem, { mode: 0o600 });
  writeFileSync(tls.ca, ca.certPem);
  writeFileSync(
    join(configDir, "vault.hcl"),
    renderVaultConfig({ ip: "127.0.0.1", port, clusterPort, dataPath: join(dir, "data"), configDir, nodeId: "platform-security" }),
  );
  const address = `https://127.0.0.1:${port}`;
  const dispatcher = new Agent({ connect: { ca: ca.certPem } });
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await undiciFetch(`${address}/v1/${path}`, {
      method,
      dispatcher,
      headers: token ? { "X-Vault-Token": token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {} };
  };
  const health = async () => (await call("GET", "sys/health")).status;
  const binary = tool("vault");
  const vault = await startProcess(binary, ["server", `-config=${join(configDir, "vault.hcl")}`], {
    env: { PATH: process.env.PATH, HOME: dir },
    ready: () =>
      health().then(
        (s) => s !== 0,
        () => false,
      ),
  });
  const stop = () => vault.stop();
  const status = await health();
  if (status !== 501) {
    await stop();
    throw new Error(`vault: expected an uninitialised server (501), got ${status}`);
  }
  const init = await call("PUT", "sys/init", undefined, { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", undefined, { key: init.body.keys[0] });
  for (let i = 0; i < 150; i++) {
    if ((await health()) === 200) return { address, rootToken: init.body.root_token, binary, call, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error("vault: not active 30 s after unsealing");
}
