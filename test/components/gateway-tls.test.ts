// The environments' TLS gateway for real: the Caddyfile the program renders, run by the real caddy with certificates
// from a real CA, in front of the local Qdrant stand-in; the tenancy's Qdrant provider then works through it with
// the environment CA, and refuses a gateway whose certificate chains elsewhere.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { qdrantCollectionProvider as p, type QdrantCollectionState } from "../../components/providers/qdrant-collection";
import { renderGatewayCaddyfile } from "../../lib/compose/caddyfile";
import { startFakeQdrant, type FakeQdrant } from "../helpers/fake-qdrant";
import { startCaddy } from "../helpers/caddy";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { freePort } from "../helpers/servers";

let cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** caddy running the gateway for `routes`, each with a certificate for 127.0.0.1 from `ca`. */
async function startGateway(ca: TestCa, routes: { service: string; port: number; upstream: string }[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-"));
  const sites = routes.map((r) => {
    const cert = ca.issue(`test-${r.service}`, { ip: ["127.0.0.1"], dns: [`test-${r.service}`] });
    writeFileSync(join(dir, `${r.service}.crt`), cert.certPem);
    writeFileSync(join(dir, `${r.service}.key`), cert.keyPem, { mode: 0o600 });
    return { ...r, certFile: join(dir, `${r.service}.crt`), keyFile: join(dir, `${r.service}.key`) };
  });
  const stop = await startCaddy(
    dir,
    renderGatewayCaddyfile(sites),
    routes.map((r) => r.port),
  );
  cleanup.push(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** A fresh environment CA and a gateway serving `service` on a free port in front of `upstreamUrl`. */
async function gatewayFor(service: string, upstreamUrl: string): Promise<{ ca: TestCa; port: number; url: string }> {
  const ca = makeTestCa("test env CA");
  cleanup.push(() => ca.remove());
  const port = await freePort();
  await startGateway(ca, [{ service, port, upstream: new URL(upstreamUrl).host }]);
  return { ca, port, url: `https://127.0.0.1:${port}` };
}

describe("TLS gateway", () => {
  it("serves Qdrant over TLS 1.3 with the environment CA's certificate; the tenancy provider works through it", async () => {
    const q: FakeQdrant = await startFakeQdrant();
    cleanup.push(() => q.close());
    const { ca, url } = await gatewayFor("qdrant", q.url);
    const inputs = {
      tenant: "acme",
      url,
      apiKey: q.apiKey,
      caCert: ca.certPem,
      collection: "tenant_acme",
      vectorSize: 4,
      distance: "Cosine" as const,
      onDelete: "retain" as const,
    };
    const { outs } = (await p.create(inputs)) as { outs: QdrantCollectionState };
    expect(outs.observed).toEqual({ exists: true, vectorSize: 4, distance: "Cosine", points: 0 });
    expect(q.collections.get("tenant_acme")).toEqual({ size: 4, distance: "Cosine", points: 0 });

    // Without the CA (the system's roots) and with another CA, the certificate is refused before any request.
    const seen = q.log.length;
    await expect(p.create({ ...inputs, caCert: undefined })).rejects.toThrow(/cannot reach Qdrant/);
    const other = makeTestCa("another CA");
    cleanup.push(() => other.remove());
    await expect(p.create({ ...inputs, caCert: other.certPem })).rejects.toThrow(
      /cannot reach Qdrant \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    );
    expect(q.log.length).toBe(seen);
  });

  it("serves Ollama too: a model pulled (a stream) and a stalled pull resumed through it, the CA verified", async () => {
    const { ollamaModelProvider } = await import("../../components/providers/ollama-model");
    const { startFakeOllama } = await import("../helpers/fake-ollama");
    const ollama = await startFakeOllama({ stallPullAt: { fraction: 0.4, times: 1 } });
    cleanup.push(() => ollama.close());
    const { ca, url: host } = await gatewayFor("ollama", ollama.url);
    const { outs } = (await ollamaModelProvider.create({ host, caCert: ca.certPem, name: "mistral:7b", stallSeconds: 0.5, maxResumes: 2 })) as {
      outs: { observed: { size: number } };
    };
    expect(outs.observed.size).toBe(4_113_301_824);
    expect(ollama.pullAttempts.get("mistral:7b")).toBe(2);
    // Without the CA the gateway's certificate is refused.
    await expect(ollamaModelProvider.read!("x", { host, name: "mistral:7b" } as never)).rejects.toThrow(/cannot reach https:\/\/127\.0\.0\.1/);
  });

  it("speaks TLS 1.3 only", async () => {
    const q = await startFakeQdrant();
    cleanup.push(() => q.close());
    const { ca, port } = await gatewayFor("qdrant", q.url);
    const tls = await import("node:tls");
    const handshake = (maxVersion: "TLSv1.2" | "TLSv1.3") =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, ca: ca.certPem, maxVersion }, () => {
          const v = s.getProtocol() ?? "";
          s.destroy();
          resolve(v);
        });
        s.on("error", reject);
      });
    expect(await handshake("TLSv1.3")).toBe("TLSv1.3");
    await expect(handshake("TLSv1.2")).rejects.toThrow(/version|alert/i);
  });
});
