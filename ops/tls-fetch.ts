// The operator commands' HTTPS: a fetch that verifies servers against a given CA (the environment's, the Proxmox
// node's) instead of the system's roots, or not at all when a stack says `insecure`. One place for the undici
// agent the bench, the drill and the Proxmox client share. (The dynamic providers keep their own: they may only
// `require` packages inside their methods.)
import { Agent, fetch as undiciFetch } from "undici";

export function tlsFetch(o: { ca?: string; insecure?: boolean } = {}): typeof fetch {
  if (!o.ca && !o.insecure) return fetch;
  const dispatcher = new Agent({ connect: { ...(o.ca ? { ca: o.ca } : {}), rejectUnauthorized: !o.insecure } });
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}
