// Reading guests the same way in every rule: their environment tag, NICs, disks and mount points.
import type { PolicyResource } from "@pulumi/policy";
import { cidrContains, parseCidr, parseIpv4 } from "../../lib/net";
import { environmentsOf } from "../../lib/tags";
import { knownEntries } from "./policy";
import type { PolicyEnvironment, Topology } from "./topology";
import { CT, FIREWALL_OPTIONS, VM } from "./types";

/** A resource's inputs as the engine hands them to a rule: any shape, possibly unknown; rules read them defensively. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Props = Record<string, any>;

export function isGuest(type: string): boolean {
  return type === VM || type === CT;
}

/** The guest's environment when it carries exactly one known env tag; undefined otherwise (its own rule says why). */
export function guestEnvironment(props: Props): PolicyEnvironment | undefined {
  const envs = environmentsOf(Array.isArray(props.tags) ? props.tags : []);
  return envs.length === 1 && ["platform", "private", "public"].includes(envs[0]) ? (envs[0] as PolicyEnvironment) : undefined;
}

export interface Nic {
  bridge?: string;
  firewall?: boolean;
  vlanId?: number;
}

export function nicsOf(type: string, props: Props): Nic[] {
  const list = type === VM ? props.networkDevices : props.networkInterfaces;
  return Array.isArray(list) ? list : [];
}

/** Datastores a guest puts its volumes on (disks, EFI disk, cloud-init drive, container rootfs and mount points). */
export function datastoresOf(type: string, props: Props): string[] {
  const out: string[] = [];
  if (type === VM) {
    for (const d of props.disks ?? []) if (d?.datastoreId) out.push(d.datastoreId);
    if (props.efiDisk?.datastoreId) out.push(props.efiDisk.datastoreId);
    if (props.initialization?.datastoreId) out.push(props.initialization.datastoreId);
  } else if (type === CT) {
    if (props.disk?.datastoreId) out.push(props.disk.datastoreId);
    for (const m of props.mountPoints ?? []) if (m?.volume && !String(m.volume).startsWith("/")) out.push(String(m.volume).split(":")[0]);
  }
  return out;
}

/** A guest's numeric id and whether it is a VM or a container: how its firewall resources point at it. */
export function guestKey(type: string, props: Props): string | undefined {
  if (props.vmId === undefined || props.vmId === null) return undefined;
  return `${type === VM ? "vm" : "ct"}:${props.vmId}`;
}

/**
 * The guest a firewall resource (options, rules, ipset) applies to, in the same key form. The real provider's outputs
 * hold the other id as null (not absent), as Terraform state does for an unset attribute.
 */
export function firewallTarget(props: Props): string | undefined {
  if (props.vmId !== undefined && props.vmId !== null) return `vm:${props.vmId}`;
  if (props.containerId !== undefined && props.containerId !== null) return `ct:${props.containerId}`;
  return undefined;
}

export function isTrue(v: unknown): boolean {
  return v === true || v === "true";
}

/** Every IPv4 address mentioned in any known string anywhere in a value. */
export function addressesIn(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") for (const m of v.matchAll(/(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g)) out.push(m[1]);
    else if (v && typeof v === "object") knownEntries(v).forEach(([, x]) => walk(x));
  };
  walk(value);
  return out.filter((a) => parseIpv4(a) !== undefined);
}

export function inAnyCidr(address: string, cidrs: string[]): boolean {
  const ip = parseIpv4(address);
  return (
    ip !== undefined &&
    cidrs.some((c) => {
      const net = parseCidr(c);
      return net !== undefined && cidrContains(net, ip);
    })
  );
}

/** The environment a stack's guests belong to, from the topology; undefined for stacks it does not know. */
export function environmentOfStack(t: Topology, resources: PolicyResource[]): PolicyEnvironment | undefined {
  for (const r of resources) {
    if (!isGuest(r.type)) continue;
    const stackTag = (r.props.tags ?? []).find((x: string) => x.startsWith("stack-"));
    if (stackTag) return t.stacks[stackTag.slice("stack-".length)];
  }
  return undefined;
}

export type HostPci = { mapping?: string; id?: string; device?: string };
export function hostpcisOf(props: Props): HostPci[] {
  return Array.isArray(props.hostpcis) ? props.hostpcis : [];
}

/** Every guest with a network interface, with its firewall options (OptionsLegacy) if it has any. */
export function networkedGuestsWithOptions<R extends { type: string; props: Props }>(resources: R[]): { guest: R; options: Props | undefined }[] {
  const options = new Map<string, Props>();
  for (const r of resources) if (r.type === FIREWALL_OPTIONS) options.set(firewallTarget(r.props) ?? "", r.props);
  return resources
    .filter((g) => isGuest(g.type) && nicsOf(g.type, g.props).length > 0) // no NIC, nothing to filter
    .map((guest) => ({ guest, options: options.get(guestKey(guest.type, guest.props) ?? "") }));
}
