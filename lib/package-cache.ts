// The platform's package cache: apt-cacher-ng (Debian's package) in the packages container of the services zone.
// The guests of both environments fetch their distribution's packages through it (apt's http proxy); for the public
// zone it is the only way to a package mirror, since its firewall lets no plain HTTP out (Ubuntu's and Debian's
// mirrors serve apt over http://). It is no open proxy: only the Debian and Ubuntu archives it knows (ForceManaged),
// no CONNECT tunnels. Third-party repositories (NVIDIA, Grafana, HashiCorp) are https:// and go direct on 443.
import { SCRIPT_PRELUDE, aptInstallUnless, enableAndStart, hasPackage, putFile } from "./shell";

export const PACKAGE_CACHE_PORT = 3142;
/** The configuration directory apt-cacher-ng reads every *.conf of, in name order (ours last). */
export const PACKAGE_CACHE_CONFIG_DIR = "/etc/apt-cacher-ng";
export const PACKAGE_CACHE_DIR = "/var/cache/apt-cacher-ng";

/** apt's proxy setting for a guest: http:// sources through the cache, https:// ones direct. */
export const aptProxyUrl = (cacheIp: string) => `http://${cacheIp}:${PACKAGE_CACHE_PORT}`;

/**
 * The archives the cache serves (ForceManaged: these and no other): Debian's and Debian security's (the package's
 * own remaps, acng.conf), Ubuntu's (the package's, with our backend) and Ubuntu security's (ours, below).
 */
export const PACKAGE_CACHE_ARCHIVES = ["deb.debian.org", "security.debian.org", "archive.ubuntu.com", "security.ubuntu.com"] as const;

/** Where apt-cacher-ng fetches each distribution's archive from (its Remap backends). */
export const PACKAGE_CACHE_UPSTREAMS = {
  backends_debian: "http://deb.debian.org/debian/",
  backends_ubuntu: "http://archive.ubuntu.com/ubuntu/",
} as const;

/**
 * Our settings, after the package's acng.conf (which defines the Debian archive and Debian security remaps) and its
 * debconf file: the address and port, managed repositories only, and Ubuntu's security archive, which the package
 * does not remap.
 */
export function renderPackageCacheConfig(ip: string): string {
  return `# Managed by ai-dualstack: the platform's package cache (lib/package-cache.ts).
Port: ${PACKAGE_CACHE_PORT}
BindAddress: ${ip}
CacheDir: ${PACKAGE_CACHE_DIR}
# Only the distributions' archives below and in acng.conf: a request for any other URL is refused, not fetched.
ForceManaged: 1
# No CONNECT tunnels (https:// sources go direct, where a zone's firewall allows it).
PassThroughPattern: ^$
Remap-ubusec: security.ubuntu.com/ubuntu ; security.ubuntu.com/ubuntu
ExThreshold: 7
`;
}

/** The files of the cache's configuration directory that the program writes. */
export function packageCacheFiles(ip: string): Record<string, string> {
  return {
    "zzz-ai-dualstack.conf": renderPackageCacheConfig(ip),
    ...Object.fromEntries(Object.entries(PACKAGE_CACHE_UPSTREAMS).map(([file, url]) => [file, `${url}\n`])),
  };
}

/** The install script of the packages container: Debian's apt-cacher-ng with the files above, restarted on a change. */
export function renderPackageCacheInstallScript(ip: string): string {
  const files = Object.entries(packageCacheFiles(ip))
    .map(([file, content]) => putFile(`${PACKAGE_CACHE_CONFIG_DIR}/${file}`, "0644", "root:root", content))
    .join("");
  return `${SCRIPT_PRELUDE}
${aptInstallUnless(hasPackage("apt-cacher-ng"), ["apt-cacher-ng"], { noRecommends: true, changed: true })}${files}
${enableAndStart("apt-cacher-ng")}echo "package cache: ready on ${ip}:${PACKAGE_CACHE_PORT}"
`;
}

/** apt's configuration on a guest that fetches through the cache (the LXCs; the VM gets it from cloud-init). */
export function renderAptProxyScript(proxyUrl: string): string {
  return `${SCRIPT_PRELUDE}
${putFile("/etc/apt/apt.conf.d/01ai-dualstack-proxy", "0644", "root:root", `// Managed by ai-dualstack: packages through the platform's package cache.\nAcquire::http::Proxy "${proxyUrl}";\n`)}echo "apt: through ${proxyUrl}"
`;
}
