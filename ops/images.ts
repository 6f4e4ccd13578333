// `dualstack images <stack> --check`: whether each image's tag resolves, asked of its registry's API (the OCI
// distribution spec: HEAD /v2/<repository>/manifests/<tag>), anonymously, with the bearer token the registry's
// challenge points to (Docker Hub, ghcr.io, nvcr.io and quay.io all work so for public images). With a mirror
// every image is asked of it instead: Docker Hub's under their own path, the others under "<registry>/<path>".
import type { ImageRef, ImageRow } from "../lib/images";

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface ImageCheck {
  status: "found" | "missing" | "error";
  /** The manifest's digest when found; why not otherwise. */
  detail: string;
}

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Where the manifest of `image` is asked for. */
export function manifestUrl(image: ImageRef, mirror?: string): string {
  if (mirror) {
    const path = image.registry === "docker.io" ? image.repository : `${image.registry}/${image.repository}`;
    return `${mirror.replace(/\/$/, "")}/v2/${path}/manifests/${image.tag}`;
  }
  const host = image.registry === "docker.io" ? "registry-1.docker.io" : image.registry;
  return `https://${host}/v2/${image.repository}/manifests/${image.tag}`;
}

/** The parameters of a `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge. */
export function bearerChallenge(header: string | null): Record<string, string> | undefined {
  if (!header || !/^Bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return params.realm ? params : undefined;
}

export async function checkImage(image: ImageRef, opts: { fetch?: Fetch; mirror?: string; timeoutMs?: number } = {}): Promise<ImageCheck> {
  const fetchFn = opts.fetch ?? fetch;
  const url = manifestUrl(image, opts.mirror);
  const ask = (headers: Record<string, string> = {}) =>
    fetchFn(url, { method: "HEAD", headers: { Accept: ACCEPT, ...headers }, signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
  try {
    let res = await ask();
    const challenge = res.status === 401 ? bearerChallenge(res.headers.get("www-authenticate")) : undefined;
    if (challenge) {
      const tokenUrl = new URL(challenge.realm);
      if (challenge.service) tokenUrl.searchParams.set("service", challenge.service);
      tokenUrl.searchParams.set("scope", challenge.scope ?? `repository:${image.repository}:pull`);
      const t = await fetchFn(tokenUrl.toString(), { signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
      if (!t.ok) return { status: "error", detail: `the registry's token service answered HTTP ${t.status}` };
      const body = (await t.json()) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      if (!token) return { status: "error", detail: "the registry's token service gave no token" };
      res = await ask({ Authorization: `Bearer ${token}` });
    }
    if (res.ok) return { status: "found", detail: res.headers.get("docker-content-digest") ?? "found (no digest given)" };
    // Registries answer 401 or 403 rather than 404 for a repository they do not have, to anonymous clients.
    if (res.status === 404 || (challenge && (res.status === 401 || res.status === 403)))
      return { status: "missing", detail: `no such tag (HTTP ${res.status})` };
    return { status: "error", detail: `HTTP ${res.status} from ${new URL(url).host}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { status: "error", detail: `${new URL(url).host} unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}` };
  }
}

export function renderImages(rows: (ImageRow & { check?: ImageCheck })[]): string {
  const header = ["image", "registry", "used by", ...(rows.some((r) => r.check) ? ["check"] : [])];
  const cells = rows.map((r) => [
    r.ref,
    r.registry,
    r.usedBy.join(", "),
    ...(r.check ? [r.check.status === "found" ? `found ${r.check.detail}` : `${r.check.status.toUpperCase()}: ${r.check.detail}`] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells]
    .map((c) =>
      c
        .map((x, i) => x.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
