// Container images for the GPU-VM stand-in, built here because no registry is reachable: each is a root filesystem of
// programs built or installed on this machine (the binary and the shared libraries ldd lists), imported into the
// guest's Docker under the name the program's Compose file asks for, with the configuration the upstream image's
// Dockerfile sets (entrypoint, command, environment, working directory).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { run, tool } from "../helpers/process";
import type { Vm } from "./testbed";

export interface LocalImage {
  /** The reference the Compose file uses. */
  name: string;
  /** Host programs and where they go in the image; their shared libraries come along at their own paths. */
  programs: { from: string; to: string }[];
  /** Files written into the image: path → content. */
  files?: Record<string, string>;
  /** Empty directories (mode 1777 for /tmp). */
  directories?: string[];
  /** Symbolic links: path → target. */
  links?: Record<string, string>;
  /** Dockerfile instructions `docker import --change` takes (ENV, ENTRYPOINT, CMD, WORKDIR, EXPOSE). */
  changes: string[];
}

/** The shared libraries a dynamic executable loads (none for a static one). */
async function librariesOf(program: string): Promise<string[]> {
  const r = await run("ldd", [program]);
  if (r.code !== 0) {
    if (/not a dynamic executable|statically linked/.test(r.all)) return [];
    throw new Error(`ldd ${program}: exit ${r.code}: ${r.all}`);
  }
  return [...new Set([...r.stdout.matchAll(/(\/[^\s)]+)/g)].map((m) => m[1]))];
}

/** Builds the image's root as a gzipped tar in `dir`; returns its path. */
export async function buildImageTar(dir: string, image: LocalImage): Promise<string> {
  const root = mkdtempSync(join(dir, "image-root-"));
  try {
    const put = (from: string, to: string) => {
      const target = join(root, to);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(from, target);
      chmodSync(target, statSync(from).mode & 0o7777);
    };
    for (const p of image.programs) {
      const from = tool(p.from);
      put(from, p.to);
      for (const lib of await librariesOf(from)) put(lib, lib);
    }
    for (const d of image.directories ?? []) {
      mkdirSync(join(root, d), { recursive: true });
      if (d === "/tmp") chmodSync(join(root, d), 0o1777);
    }
    for (const [path, content] of Object.entries(image.files ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    for (const [path, target] of Object.entries(image.links ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      symlinkSync(target, join(root, path));
    }
    const tar = join(dir, `${image.name.replace(/[^a-z0-9.-]+/gi, "_")}.tar.gz`);
    const r = await run("tar", ["-C", root, "--owner=0", "--group=0", "--numeric-owner", "-czf", tar, "."], { timeoutMs: 5 * 60_000 });
    if (r.code !== 0) throw new Error(`tar of ${image.name}: ${r.all}`);
    return tar;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Builds the image on the host, copies it into the guest and imports it there under its name. */
export async function importImage(vm: Vm, dir: string, image: LocalImage): Promise<void> {
  const tar = await buildImageTar(dir, image);
  const remote = `/tmp/${tar.split("/").pop()}`;
  await vm.upload(tar, remote);
  const changes = image.changes.map((c) => `--change '${c.replace(/'/g, "'\\''")}'`).join(" ");
  const r = await vm.ssh(`docker import ${changes} ${remote} ${image.name} >/dev/null && rm -f ${remote}`, { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`docker import ${image.name}: exit ${r.code}: ${r.all}`);
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";
const BASE = { "/etc/passwd": PASSWD, "/etc/group": GROUP, "/etc/nsswitch.conf": "hosts: files dns\n" };

/** ollama/ollama at the project's build of the same version (scripts/ollama.sh, CPU backend), as its Dockerfile sets it up. */
export const ollamaImage = (name: string): LocalImage => ({
  name,
  programs: [{ from: "ollama", to: "/usr/bin/ollama" }],
  files: BASE,
  directories: ["/root", "/tmp"],
  links: { "/bin/ollama": "/usr/bin/ollama" },
  changes: ["ENV OLLAMA_HOST=0.0.0.0:11434", 'ENTRYPOINT ["/bin/ollama"]', 'CMD ["serve"]', "EXPOSE 11434"],
});

/** caddy at the images' version (scripts/caddy.sh), laid out as the official caddy image is. */
export const caddyImage = (name: string): LocalImage => ({
  name,
  programs: [{ from: "caddy-image", to: "/usr/bin/caddy" }],
  files: BASE,
  directories: ["/config/caddy", "/data/caddy", "/etc/caddy", "/srv", "/tmp"],
  changes: [
    "ENV XDG_CONFIG_HOME=/config",
    "ENV XDG_DATA_HOME=/data",
    "WORKDIR /srv",
    'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
    "EXPOSE 80 443 2019",
  ],
});

/**
 * A stand-in for a web application whose program cannot be had here (Open WebUI is Python from PyPI): busybox's
 * httpd on the application's port, answering its health path, with curl for the program's own healthcheck. It shows
 * what Compose does with the service (start order, health, networks), not the application.
 */
export const webStandIn = (name: string, port: number, healthPath: string): LocalImage => ({
  name,
  programs: [
    { from: "busybox", to: "/bin/busybox" },
    { from: "curl", to: "/usr/bin/curl" },
  ],
  files: { ...BASE, [`/www${healthPath}`]: "ok\n", "/www/index.html": `stand-in for ${name}\n` },
  directories: ["/tmp"],
  links: { "/bin/sh": "busybox" },
  changes: [`CMD ["/bin/busybox", "httpd", "-f", "-p", "${port}", "-h", "/www"]`, `EXPOSE ${port}`],
});
