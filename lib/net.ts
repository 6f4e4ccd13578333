// IPv4 arithmetic for the config schemas and renderers. Pure functions, no dependencies.

export interface Cidr {
  network: number; // the network address as an unsigned 32-bit integer
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses a dotted-quad IPv4 address; undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

function splitPrefixed(text: string): { ip: number; prefix: number } | undefined {
  const [addr, len, ...rest] = text.split("/");
  if (rest.length > 0 || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const prefix = Number(len);
  const ip = parseIpv4(addr);
  if (ip === undefined || prefix > 32) return undefined;
  return { ip, prefix };
}

/** Parses "a.b.c.d/n" where a.b.c.d is the network address itself (no host bits set). */
export function parseCidr(text: string): Cidr | undefined {
  const parsed = splitPrefixed(text);
  if (!parsed) return undefined;
  const network = (parsed.ip & mask(parsed.prefix)) >>> 0;
  return network === parsed.ip ? { network, prefix: parsed.prefix } : undefined;
}

/** Parses an interface address "a.b.c.d/n" (host bits allowed) into its address and subnet. */
export function parseInterfaceAddress(text: string): { ip: number; subnet: Cidr } | undefined {
  const parsed = splitPrefixed(text);
  if (!parsed) return undefined;
  return { ip: parsed.ip, subnet: { network: (parsed.ip & mask(parsed.prefix)) >>> 0, prefix: parsed.prefix } };
}

/** The IP of an interface address: "10.20.0.10/24" → "10.20.0.10". */
export function ipOf(interfaceAddress: string): string {
  return interfaceAddress.split("/")[0];
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return (ip & mask(cidr.prefix)) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const shorter = Math.min(a.prefix, b.prefix);
  return (a.network & mask(shorter)) >>> 0 === (b.network & mask(shorter)) >>> 0;
}

/** True when ip is a usable host address of cidr (not the network or broadcast address of a /30 or wider). */
export function isHostAddress(cidr: Cidr, ip: number): boolean {
  if (!cidrContains(cidr, ip)) return false;
  if (cidr.prefix >= 31) return true;
  const broadcast = cidr.network + 2 ** (32 - cidr.prefix) - 1;
  return ip !== cidr.network && ip !== broadcast;
}
