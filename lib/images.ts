// Every image a stack would run: its services' images and, for those built here, the base images their Dockerfiles
// start FROM, each with the registry it comes from and the repository path that registry serves it under (Docker's
// normalisation: no host means Docker Hub, a one-part name is an official image under library/).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { StackSpec } from "./compose/spec";
import { urlEgress, type Egress } from "./egress";

/** The registry an image reference pulls from: its first component when that names a host, else Docker Hub. */
export function imageRegistry(image: string): string {
  const first = image.split("/")[0];
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

export interface ImageRef {
  ref: string;
  registry: string;
  /** The path the registry's API uses: "library/redis", "open-webui/open-webui". */
  repository: string;
  tag: string;
}

export interface ImageRow extends ImageRef {
  /** The services that run it, or "<service> (base)" for a Dockerfile's FROM. */
  usedBy: string[];
}

/** An image reference with an explicit tag (the stacks refuse any other), split into its parts. */
export function parseImage(ref: string): ImageRef {
  const m = /^(.+?):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(ref);
  if (!m || m[1].includes("@")) throw new Error(`parseImage: expected name:tag, got ${JSON.stringify(ref)}`);
  const registry = imageRegistry(ref);
  const path = registry === "docker.io" && !m[1].startsWith("docker.io/") ? m[1] : m[1].slice(m[1].indexOf("/") + 1);
  return { ref, registry, repository: registry === "docker.io" && !path.includes("/") ? `library/${path}` : path, tag: m[2] };
}

/** The images a Dockerfile pulls: each FROM's image, not its earlier stages, `scratch` or ones named by ARGs. */
export function dockerfileBaseImages(text: string): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(line);
    if (!m) continue;
    const [, image, stage] = m;
    if (!stages.has(image.toLowerCase()) && image !== "scratch" && !image.includes("$")) out.push(image);
    if (stage) stages.add(stage.toLowerCase());
  }
  return out;
}

/** The stack's images, one row per image, in the order of their first use. */
export function stackImages(spec: StackSpec, readDockerfile = (path: string) => readFileSync(path, "utf8")): ImageRow[] {
  const rows = new Map<string, ImageRow>();
  const use = (ref: string, by: string) => {
    const row = rows.get(ref) ?? { ...parseImage(ref), usedBy: [] };
    if (!row.usedBy.includes(by)) row.usedBy.push(by);
    rows.set(ref, row);
  };
  for (const s of spec.services) {
    if (!s.build) {
      use(s.image, s.name);
      continue;
    }
    let text: string;
    try {
      text = readDockerfile(join(s.build.context, s.build.dockerfile ?? "Dockerfile"));
    } catch {
      continue; // the program refuses a missing build context with its own message (lib/build-context.ts)
    }
    for (const base of dockerfileBaseImages(text)) use(base, `${s.name} (base)`);
  }
  return [...rows.values()];
}

/** Docker Hub is three hosts: the registry, its token service and the CDN its layers come from. */
const DOCKER_HUB_HOSTS = ["registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com"];

/** What the engine contacts to pull the stack's images, and the base images of those built here. */
export function imageEgress(spec: StackSpec, who: string): Egress[] {
  const registries = [...new Set(stackImages(spec).map((i) => i.registry))].sort();
  return registries.map((r) => {
    const e = urlEgress(`${who}: images from ${r}`, `https://${r}`);
    return r === "docker.io" ? { ...e, hosts: DOCKER_HUB_HOSTS } : e;
  });
}
