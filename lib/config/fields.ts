// Primitive config fields. Every field carries the human-readable form it expects, so that an error can say
// "expected a whole number from 4 to 4096" instead of a schema library's generic text.
import { z } from "zod";
import { parseCidr, parseInterfaceAddress, parseIpv4 } from "../net";

/** A zod params object whose every failure reads "expected <form>". */
export function expecting(form: string) {
  return { error: () => `expected ${form}` };
}

export function wholeNumber(min: number, max: number, unit = "") {
  const form = `a whole number from ${min} to ${max}${unit ? ` (${unit})` : ""}`;
  const e = expecting(form);
  return z.number(e).int(e).min(min, e).max(max, e);
}

export function pattern(re: RegExp, form: string) {
  const e = expecting(form);
  return z.string(e).regex(re, e);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, expecting(`one of ${values.map((v) => `"${v}"`).join(", ")}`));
}

export const bool = z.boolean(expecting("true or false"));

export function text(form = "a non-empty string") {
  const e = expecting(form);
  return z.string(e).min(1, e);
}

/** A lower-case DNS label: Proxmox pool, node and mapping names, hostnames. */
export const label = pattern(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, 'a lower-case DNS label such as "pve1" (a-z, 0-9, -)');

export const zfsPoolName = pattern(/^[a-z][a-z0-9_\-.:]{0,62}$/, 'a ZFS pool name such as "tank"');

export const ipv4 = z
  .string(expecting("an IPv4 address such as 192.0.2.10"))
  .refine((v) => parseIpv4(v) !== undefined, expecting("an IPv4 address such as 192.0.2.10"));

export const cidr = z
  .string(expecting("an IPv4 network such as 10.20.0.0/24"))
  .refine((v) => parseCidr(v) !== undefined, expecting("an IPv4 network such as 10.20.0.0/24 (no host bits set)"));

/** An interface address with its prefix, as cloud-init and Proxmox take it: "10.20.0.10/24". */
export const interfaceAddress = z
  .string(expecting("an IPv4 address with prefix such as 10.20.0.10/24"))
  .refine((v) => parseInterfaceAddress(v) !== undefined, expecting("an IPv4 address with prefix such as 10.20.0.10/24"));

export const httpsUrl = pattern(/^https:\/\/[^\s/]+(:\d+)?(\/\S*)?$/, "an https:// URL");

/** Proxmox VMIDs: 100..999999999 (PVE's own limits). */
export const vmId = wholeNumber(100, 999_999_999, "a Proxmox VMID");

export const bridgeName = pattern(/^vmbr\d{1,4}$/, 'a Linux bridge name such as "vmbr20"');

export const interfaceName = pattern(/^[a-z][a-z0-9]{1,14}$/, 'a network interface name such as "enp5s0"');

export const vlanId = wholeNumber(2, 4094, "an 802.1Q VLAN id");

/** A PCI vendor:device (or subsystem vendor:device) id, lower-case hex: "10de:2b85". */
export const pciId = pattern(/^[0-9a-f]{4}:[0-9a-f]{4}$/, 'a PCI id such as "10de:2b85" (lower-case hex vendor:device)');

/**
 * A PCI slot without a function ("0000:01:00") so that the mapping carries every function of the card (GPU and
 * its audio device), or with one ("0000:01:00.0").
 */
export const pciPath = pattern(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}(\.[0-7])?$/, 'a PCI address such as "0000:01:00" (domain:bus:slot, optional .function)');

export const stableDiskPath = pattern(
  /^\/dev\/disk\/by-id\/\S+$/,
  "a stable disk path under /dev/disk/by-id/ (never /dev/sdX or /dev/nvmeXnY, which change between boots)",
);

export const sshPublicKey = pattern(
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]{16,}( .*)?$/,
  'an OpenSSH public key line such as "ssh-ed25519 AAAA… user@host"',
);

export const isoDate = pattern(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD").refine(
  (v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)),
  expecting("a real calendar date as YYYY-MM-DD"),
);

/** A systemd-style duration as the provider takes it for timeouts: "15m", "90s", "1h". */
export const duration = pattern(/^\d+(s|m|h)$/, 'a duration such as "15m", "90s" or "1h"');

/** The seconds of a `duration` ("15m" → 900). */
export function durationSeconds(d: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`durationSeconds: ${JSON.stringify(d)} is not a duration such as "15m"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

export const fileName = pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a file name (letters, digits, '.', '_', '-')");

export const sha256 = pattern(/^[0-9a-f]{64}$/, "a sha256 checksum (64 lower-case hex digits)");

/** An endpoint URL for the Proxmox API: https, with the port. */
export const proxmoxEndpoint = pattern(/^https:\/\/[^\s/:]+:\d+\/?$/, 'the Proxmox API URL with its port, such as "https://192.0.2.10:8006/"');

/** A systemd / Proxmox calendar event: "02:30", "*-*-* 02:30", "Sun 04:00", "mon..fri 01:00". */
export const calendarEvent = pattern(/^[A-Za-z0-9*:,./~ -]{1,64}$/, 'a calendar event such as "*-*-* 02:30" or "Sun 04:00"');

/** A server's TLS certificate fingerprint as Proxmox shows it: 32 colon-separated hex bytes. */
export const certFingerprint = pattern(
  /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/,
  'a SHA-256 certificate fingerprint such as "AB:CD:…" (32 hex bytes separated by colons)',
);

/** A Prometheus-style retention: "30d", "8w", "1y". */
export const retentionPeriod = pattern(/^\d+(d|w|y)$/, 'a retention such as "30d", "8w" or "1y"');

/** A Debian package version as apt pins it: "13.2.2", "1.21.4-1". */
export const packageVersion = pattern(/^[0-9][A-Za-z0-9.+~-]*$/, 'a package version such as "13.2.2" or "1.21.4-1"');

/** OpenPGP fingerprints a repository key may have, with their default. */
export const fingerprints = (defaults: readonly string[]) =>
  z
    .array(pattern(/^[0-9A-F]{40}$/, "a 40-digit upper-case hex OpenPGP fingerprint"))
    .min(1, { error: () => "expected at least one fingerprint" })
    .default([...defaults]);

/** A container image with an explicit version tag (never :latest). */
export const imageRef = pattern(
  /^[a-z0-9][a-z0-9_.-]*(:\d+)?(\/[a-z0-9._-]+)*:[A-Za-z0-9._-]+$/,
  'an image with an explicit tag such as "ollama/ollama:0.18.2"',
).refine((v) => !v.endsWith(":latest"), { error: () => "expected an explicit version tag, not :latest" });

export const hostPort = wholeNumber(1024, 65_535, "a TCP port");

/** A public DNS name: "chat.example.org". */
export const dnsName = pattern(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a DNS name such as "chat.example.org"');
