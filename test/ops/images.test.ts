// `dualstack images`: every image a stack runs, its registry and repository path; and `--check` against the real
// registry server (Debian's docker-registry, the CNCF distribution) on loopback, holding some of the images' tags.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerfileBaseImages, imageEgress, parseImage, stackImages } from "../../lib/images";
import { bearerChallenge, checkImage, manifestUrl } from "../../ops/images";
import { main } from "../../ops/cli";
import { ROOT } from "../helpers/config";
import { answers, startProcess, type Started } from "../helpers/process";
import { freePort } from "../helpers/servers";

async function dualstack(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("image references", () => {
  it("normalise as Docker does: no host is Docker Hub, a one-part name is an official image", () => {
    expect(parseImage("redis:7.4.6-alpine")).toMatchObject({ registry: "docker.io", repository: "library/redis", tag: "7.4.6-alpine" });
    expect(parseImage("ollama/ollama:0.18.2")).toMatchObject({ registry: "docker.io", repository: "ollama/ollama" });
    expect(parseImage("docker.io/library/caddy:2.10.2")).toMatchObject({ registry: "docker.io", repository: "library/caddy" });
    expect(parseImage("ghcr.io/open-webui/open-webui:v0.8.12")).toMatchObject({ registry: "ghcr.io", repository: "open-webui/open-webui", tag: "v0.8.12" });
    expect(parseImage("localhost:5000/team/app:1")).toMatchObject({ registry: "localhost:5000", repository: "team/app", tag: "1" });
    expect(() => parseImage("redis")).toThrow("expected name:tag");
    expect(manifestUrl(parseImage("redis:7"))).toBe("https://registry-1.docker.io/v2/library/redis/manifests/7");
    expect(manifestUrl(parseImage("quay.io/minio/mc:RELEASE.1"), "http://127.0.0.1:5000/")).toBe(
      "http://127.0.0.1:5000/v2/quay.io/minio/mc/manifests/RELEASE.1",
    );
  });

  it("a Dockerfile's base images: each FROM, not its own stages, scratch or ARG-named ones", () => {
    const text =
      "ARG BASE=x\nFROM --platform=linux/amd64 python:3.12-slim AS build\nRUN true\nFROM build AS test\nFROM scratch\nFROM ${BASE}\nfrom quay.io/a/b:1\n";
    expect(dockerfileBaseImages(text)).toEqual(["python:3.12-slim", "quay.io/a/b:1"]);
  });

  it("the every-tier private stack lists its services' images and the bases of those built here; egress includes the bases' registries", async () => {
    const r = await dualstack("images", "private", "--config", join(ROOT, "examples/catalog/Pulumi.private.yaml"), "--json");
    expect(r.code).toBe(0);
    const images = JSON.parse(r.out).images as { ref: string; usedBy: string[] }[];
    expect(images.find((i) => i.ref === "python:3.12.12-slim-bookworm")?.usedBy).toEqual(["app-docs-api (base)", "rag (base)", "worker-ingest (base)"]);
    expect(images.find((i) => i.ref.startsWith("quay.io/jupyter/"))?.usedBy).toEqual(["jupyter (base)"]);
    expect(images.some((i) => i.ref.startsWith("ai-dualstack/"))).toBe(false);
    // The bases' registry is reached even when no pulled service uses it.
    const spec = { services: [{ name: "app", image: "ai-dualstack/app:1", build: { context: join(ROOT, "apps/jupyter") } }], networks: [], volumes: [] };
    expect(imageEgress(spec as never, "vm").map((e) => e.hosts[0])).toEqual(["quay.io"]);
    expect(stackImages(spec as never).map((i) => i.ref)).toEqual(["quay.io/jupyter/pytorch-notebook:cuda12-2025-10-20"]);
  });

  it("parses a registry's bearer challenge", () => {
    expect(bearerChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"')).toEqual({
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:library/redis:pull",
    });
    expect(bearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(bearerChallenge(null)).toBeUndefined();
  });
});

describe("--check against a real registry on loopback", () => {
  let dir: string;
  let registry: Started;
  let url: string;
  const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

  /** Pushes a minimal image (one config blob, one layer) as repository:tag through the registry's API. */
  async function push(repository: string, tag: string) {
    const blob = async (content: Buffer) => {
      const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: "POST" });
      expect(start.status).toBe(202);
      const location = new URL(start.headers.get("location")!, url);
      location.searchParams.set("digest", sha(content));
      const put = await fetch(location, { method: "PUT", body: content, headers: { "Content-Type": "application/octet-stream" } });
      expect(put.status).toBe(201);
      return { digest: sha(content), size: content.length };
    };
    const config = await blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
    const layer = await blob(Buffer.from(`layer of ${repository}:${tag}`));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", ...layer }],
    };
    const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
      method: "PUT",
      body: JSON.stringify(manifest),
      headers: { "Content-Type": manifest.mediaType },
    });
    expect(res.status, await res.text()).toBe(201);
    return res.headers.get("docker-content-digest");
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "registry-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, "config.yml"),
      JSON.stringify({
        version: 0.1,
        log: { level: "warn" },
        storage: { filesystem: { rootdirectory: join(dir, "data") } },
        http: { addr: `127.0.0.1:${port}` },
      }),
    );
    registry = await startProcess("docker-registry", ["serve", join(dir, "config.yml")], { ready: () => answers(`${url}/v2/`, { status: 200 }) });
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports each tag found with its digest, or MISSING (exit 1), until every one is there (exit 0)", async () => {
    const listed = JSON.parse((await dualstack("images", "public", "--json")).out).images as {
      ref: string;
      registry: string;
      repository: string;
      tag: string;
    }[];
    const [last, ...others] = [...listed].reverse();
    const digests = new Map<string, string | null>();
    for (const i of others) digests.set(i.ref, await push(i.registry === "docker.io" ? i.repository : `${i.registry}/${i.repository}`, i.tag));
    const partial = await dualstack("images", "public", "--check", "--registry-mirror", url);
    expect(partial.code).toBe(1);
    const line = (out: string, ref: string) => out.split("\n").find((l) => l.startsWith(`${ref} `)) ?? "";
    for (const i of others) expect(line(partial.out, i.ref)).toContain(`found ${digests.get(i.ref)}`);
    expect(line(partial.out, last.ref)).toMatch(/MISSING: no such tag \(HTTP 404\)$/);
    await push(last.registry === "docker.io" ? last.repository : `${last.registry}/${last.repository}`, last.tag);
    const whole = await dualstack("images", "public", "--check", "--registry-mirror", url, "--json");
    expect(whole.code).toBe(0);
    expect(JSON.parse(whole.out).images.every((i: { check: { status: string } }) => i.check.status === "found")).toBe(true);
  }, 60_000);

  it("an unreachable registry is an error naming it; a bad mirror URL is an argument error", async () => {
    const closed = await freePort();
    const r = await checkImage(parseImage("redis:7"), { mirror: `http://127.0.0.1:${closed}` });
    expect(r).toEqual({ status: "error", detail: `127.0.0.1:${closed} unreachable: ECONNREFUSED` });
    const bad = await dualstack("images", "public", "--check", "--registry-mirror", "ftp://mirror");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--registry-mirror: expected a registry's base URL");
  });

  it("follows a bearer challenge to the token service and asks again with the token", async () => {
    // The registry's side of the challenge is a stand-in here (the real one needs JWT signing keys): it asks for a
    // token, and answers only with the token its token service gave for this repository's pull scope.
    const port = await freePort();
    const server: Server = createServer((req, res) => {
      const u = new URL(req.url!, `http://127.0.0.1:${port}`);
      if (u.pathname === "/token") {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ token: `T:${u.searchParams.get("service")}:${u.searchParams.get("scope")}` }));
        return;
      }
      if (req.headers.authorization !== "Bearer T:reg:repository:library/redis:pull") {
        res.statusCode = 401;
        res.setHeader("WWW-Authenticate", `Bearer realm="http://127.0.0.1:${port}/token",service="reg",scope="repository:library/redis:pull"`);
        res.end();
        return;
      }
      res.statusCode = u.pathname === "/v2/library/redis/manifests/7" ? 200 : 404;
      res.setHeader("Docker-Content-Digest", "sha256:abc");
      res.end();
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      expect(await checkImage(parseImage("redis:7"), { mirror: `http://127.0.0.1:${port}` })).toEqual({ status: "found", detail: "sha256:abc" });
      expect((await checkImage(parseImage("redis:8"), { mirror: `http://127.0.0.1:${port}` })).status).toBe("missing");
    } finally {
      server.close();
    }
  });
});
