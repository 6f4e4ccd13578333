// What a guest contacts beyond the project's own networks, declared by the renderer whose output contacts it (the
// user-data, an install script, a service's image, the ingress's ACME issuer): a test holds each zone's firewall
// egress rules to these declarations (test/lib/egress.test.ts). Hosts are for people and for the note in `plan`;
// the Proxmox firewall matches addresses and ports, so the rules admit ports, and only the declared ones.
export interface Egress {
  /** Who contacts it and why: "the GPU VM's distribution packages". */
  what: string;
  hosts: readonly string[];
  proto: "tcp" | "udp";
  port: number;
  /**
   * Fetched through the platform's package cache: the guest contacts only the cache (in the services zone), the
   * cache contacts the hosts.
   */
  viaPackageCache?: true;
}

/** An egress to the host and port of a URL (https:// → 443, http:// → 80, unless it names a port). */
export function urlEgress(what: string, url: string, viaPackageCache?: true): Egress {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : u.protocol === "http:" ? 80 : NaN;
  if (!Number.isInteger(port)) throw new Error(`urlEgress: ${what}: no port for ${JSON.stringify(url)}`);
  return { what, hosts: [u.hostname], proto: "tcp", port, ...(viaPackageCache ? { viaPackageCache } : {}) };
}
