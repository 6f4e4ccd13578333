// A typed, Compose-like description of the services one environment runs in its GPU VM: plain data that the
// ComposeStack component realises with @pulumi/docker. `validateStackSpec` catches what Compose itself would.

/** An environment value: literal text, or a secret the component generates and keeps in Pulumi secrets. */
export type EnvValue = string | { secret: string };

export interface PortBinding {
  container: number;
  host: number;
  /** The host address the port is bound to: the VM's own address, never 0.0.0.0 unless the service is the ingress. */
  bind: string;
  protocol?: "tcp" | "udp";
}

export interface VolumeMount {
  volume: string;
  path: string;
  readOnly?: boolean;
}

export interface Healthcheck {
  test: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
}

/** A file's content: literal text, or the name of key material (a certificate or key) given to the stack. */
export type ServiceFile = { path: string; content: string } | { path: string; material: string };

export interface ServiceSpec {
  name: string;
  /** repository:tag; the digest it resolves to is kept in the state. */
  image: string;
  command?: string[];
  environment: Record<string, EnvValue>;
  ports: PortBinding[];
  volumes: VolumeMount[];
  /** Files written into the container before it starts: configuration text, or key material the caller supplies. */
  files?: ServiceFile[];
  healthcheck?: Healthcheck;
  restart: "unless-stopped" | "always" | "on-failure" | "no";
  gpu: boolean;
  /** Services that must be healthy before this one starts. */
  dependsOnHealthy: string[];
  networks: string[];
}

export interface StackSpec {
  /** The compose project name: `docker compose -p <project> ps` lists the containers. */
  project: string;
  networks: { name: string; internal: boolean }[];
  /** Named volumes; all are kept when the stack is deleted (model store, vector data). */
  volumes: string[];
  services: ServiceSpec[];
}

export class StackSpecError extends Error {}

/** Problems Compose would refuse or that would break the isolation promise; empty when sound. */
export function validateStackSpec(spec: StackSpec, options: { publicBindAllowed?: string[] } = {}): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const networks = new Set(spec.networks.map((n) => n.name));
  const volumes = new Set(spec.volumes);
  const bound = new Map<string, string>();
  for (const s of spec.services) {
    if (names.has(s.name)) problems.push(`service ${s.name} is defined twice`);
    names.add(s.name);
    if (!/^[a-z0-9][a-z0-9_.-]*(:\d+)?(\/[a-z0-9._-]+)*:[A-Za-z0-9._-]+$/.test(s.image) || s.image.endsWith(":latest")) {
      problems.push(`service ${s.name}: image "${s.image}" needs an explicit version tag`);
    }
    for (const n of s.networks) if (!networks.has(n)) problems.push(`service ${s.name}: network ${n} is not declared`);
    if (s.networks.length === 0) problems.push(`service ${s.name}: joins no network`);
    for (const v of s.volumes) if (!volumes.has(v.volume)) problems.push(`service ${s.name}: volume ${v.volume} is not declared`);
    for (const p of s.ports) {
      const key = `${p.bind}:${p.host}/${p.protocol ?? "tcp"}`;
      if (bound.has(key)) problems.push(`service ${s.name}: ${key} is already published by ${bound.get(key)}`);
      bound.set(key, s.name);
      if (p.bind === "0.0.0.0" && !(options.publicBindAllowed ?? []).includes(s.name)) {
        problems.push(`service ${s.name}: publishes ${p.host} on every address; only the ingress may`);
      }
    }
  }
  for (const s of spec.services) {
    for (const d of s.dependsOnHealthy) {
      const dep = spec.services.find((x) => x.name === d);
      if (!dep) problems.push(`service ${s.name}: depends on unknown service ${d}`);
      else if (!dep.healthcheck) problems.push(`service ${s.name}: depends on ${d} being healthy, but ${d} has no healthcheck`);
    }
  }
  // Dependency cycles make `wait for healthy` deadlock.
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (n: string, path: string[]) => {
    if (done.has(n)) return;
    if (visiting.has(n)) {
      problems.push(`dependency cycle: ${[...path, n].join(" → ")}`);
      return;
    }
    visiting.add(n);
    for (const d of spec.services.find((x) => x.name === n)?.dependsOnHealthy ?? []) visit(d, [...path, n]);
    visiting.delete(n);
    done.add(n);
  };
  for (const s of spec.services) visit(s.name, []);
  return problems;
}

/** Labels that make `docker compose -p <project> ps|logs` see the containers as one project. */
export function composeLabels(project: string, service: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "com.docker.compose.project": project,
    "com.docker.compose.service": service,
    "com.docker.compose.container-number": "1",
    "com.docker.compose.oneoff": "False",
    ...extra,
  };
}

/** The secrets a stack needs generated, by name. */
export function secretNames(spec: StackSpec): string[] {
  return [...new Set(spec.services.flatMap((s) => Object.values(s.environment).flatMap((v) => (typeof v === "object" ? [v.secret] : []))))].sort();
}

/** The key material a stack's files need supplied (certificates and keys), by name. */
export function materialNames(spec: StackSpec): string[] {
  return [...new Set(spec.services.flatMap((s) => (s.files ?? []).flatMap((f) => ("material" in f ? [f.material] : []))))].sort();
}

/**
 * Firewall rules for the ports a stack publishes on the VM's own address: reachable from the management IP set
 * (operators, the model deployments) and nowhere else beyond the zone. Ports on 0.0.0.0 (the ingress) are opened
 * to everyone by the zone's own group, not here.
 */
export function publishedPortRules(spec: StackSpec, vmIp: string): { type: "in"; action: "ACCEPT"; source: string; proto: "tcp" | "udp"; dport: string; comment: string }[] {
  return spec.services.flatMap((s) => s.ports.filter((p) => p.bind === vmIp).map((p) => ({
    type: "in" as const,
    action: "ACCEPT" as const,
    source: "+management",
    proto: p.protocol ?? "tcp",
    dport: String(p.host),
    comment: `${s.name} (${spec.project}) from the management IP set`,
  })));
}
