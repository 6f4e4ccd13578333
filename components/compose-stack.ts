import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { composeLabels, materialNames, secretNames, validateStackSpec, type StackSpec } from "../lib/compose/spec";
import { dockerLabels, type GuestEnvironment } from "../lib/tags";

export interface ComposeStackArgs {
  spec: StackSpec;
  /** The Docker engine, e.g. "ssh://ops@10.20.0.10" (the VM's admin user is in the docker group). */
  dockerHost: pulumi.Input<string>;
  env: GuestEnvironment;
  stack: string;
  /** Services that may publish on 0.0.0.0 (the public ingress). */
  publicServices?: string[];
  /** Key material the services' files name (certificates and their keys), kept secret: every name the spec uses. */
  materials?: Record<string, pulumi.Input<string>>;
}

const WAIT_TIMEOUT_SECONDS = 600;

/**
 * A Compose-like stack realised with @pulumi/docker on a VM's engine: networks, named volumes kept on delete,
 * images pulled by tag with their digest kept in the state, containers that carry Compose's project/service labels
 * (so `docker compose -p <project> ps|logs` works on the VM) and start only once their dependencies are healthy.
 */
export class ComposeStack extends pulumi.ComponentResource {
  public readonly project: string;
  public readonly containers: Record<string, docker.Container>;
  /** The generated secrets by name (e.g. "qdrant-api-key"), as secrets: for the components that use them too. */
  public readonly secrets: Record<string, pulumi.Output<string>>;
  /** Image digests the containers run, by service. */
  public readonly digests: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:workload:ComposeStack", name, {}, opts);
    const spec = args.spec;
    const problems = validateStackSpec(spec, { publicBindAllowed: args.publicServices });
    const missing = materialNames(spec).filter((m) => !(m in (args.materials ?? {})));
    if (missing.length > 0) problems.push(`files need key material not given to the stack: ${missing.join(", ")}`);
    if (problems.length > 0) throw new Error(`compose stack ${spec.project}: ${problems.join("; ")}`);

    const provider = new docker.Provider(`${name}-engine`, {
      host: args.dockerHost,
      sshOpts: ["-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=15"],
    }, { parent: this });
    const child = { parent: this, provider };
    const labels = (extra: Record<string, string>) => Object.entries({ ...dockerLabels(args.env, args.stack), ...extra }).map(([label, value]) => ({ label, value }));

    const networks = Object.fromEntries(spec.networks.map((n) => [n.name, new docker.Network(`${name}-net-${n.name}`, {
      name: `${spec.project}_${n.name}`,
      internal: n.internal,
      labels: labels({ "com.docker.compose.project": spec.project, "com.docker.compose.network": n.name }),
    }, child)]));
    // Volumes hold the model store and vector data: they survive `pulumi destroy` and a rebuild of the stack.
    const volumes = Object.fromEntries(spec.volumes.map((v) => [v, new docker.Volume(`${name}-vol-${v}`, {
      name: `${spec.project}_${v}`,
      labels: labels({ "com.docker.compose.project": spec.project, "com.docker.compose.volume": v }),
    }, { ...child, retainOnDelete: true, protect: true })]));
    const images = Object.fromEntries([...new Set(spec.services.map((s) => s.image))].map((image) => [image, new docker.RemoteImage(`${name}-img-${image.replace(/[^a-z0-9]+/gi, "-")}`, {
      name: image,
      keepLocally: true,
    }, child)]));
    const secrets = Object.fromEntries(secretNames(spec).map((secret) => [secret, new random.RandomPassword(`${name}-${secret}`, {
      length: 48,
      special: false,
    }, { parent: this })]));

    this.secrets = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, pulumi.secret(v.result)]));
    this.containers = {};
    this.digests = {};
    for (const s of spec.services) {
      const env = Object.entries(s.environment).map(([k, v]) =>
        // Secret whatever the engine does with additionalSecretOutputs: the whole env list is then stored encrypted.
        typeof v === "string" ? pulumi.output(`${k}=${v}`) : pulumi.interpolate`${k}=${pulumi.secret(secrets[v.secret].result)}`);
      const image = images[s.image];
      const deps = s.dependsOnHealthy.map((d) => this.containers[d]).filter(Boolean);
      this.containers[s.name] = new docker.Container(`${name}-${s.name}`, {
        name: `${spec.project}-${s.name}-1`,
        hostname: s.name,
        // The digest resolved at pull time, kept in the state: a moved tag is a visible change, not a silent one.
        image: image.repoDigest,
        command: s.command,
        envs: env,
        ports: s.ports.map((p) => ({ internal: p.container, external: p.host, ip: p.bind, protocol: p.protocol ?? "tcp" })),
        volumes: s.volumes.map((v) => ({ volumeName: volumes[v.volume].name, containerPath: v.path, readOnly: v.readOnly ?? false })),
        uploads: (s.files ?? []).map((f) => ({ file: f.path, content: "material" in f ? pulumi.secret(args.materials![f.material]) : f.content })),
        networksAdvanced: s.networks.map((n) => ({ name: networks[n].name, aliases: [s.name] })),
        healthcheck: s.healthcheck ? {
          tests: s.healthcheck.test,
          interval: s.healthcheck.interval,
          timeout: s.healthcheck.timeout,
          retries: s.healthcheck.retries,
          startPeriod: s.healthcheck.startPeriod,
        } : undefined,
        // Wait for healthy before the stack goes on (dependents, model deployments).
        wait: s.healthcheck !== undefined,
        waitTimeout: WAIT_TIMEOUT_SECONDS,
        restart: s.restart,
        gpus: s.gpu ? "all" : undefined,
        labels: labels(composeLabels(spec.project, s.name)),
        logDriver: "json-file",
        logOpts: { "max-size": "50m", "max-file": "3" },
        securityOpts: ["no-new-privileges:true"],
        mustRun: true,
      }, {
        ...child,
        dependsOn: deps,
        deleteBeforeReplace: true,
        // Declared secret as well: policies see secrets unwrapped and can only trust this declaration.
        additionalSecretOutputs: [
          ...(Object.values(s.environment).some((v) => typeof v !== "string") ? ["envs"] : []),
          ...((s.files ?? []).some((f) => "material" in f) ? ["uploads"] : []),
        ],
      });
      this.digests[s.name] = image.repoDigest;
    }
    this.project = spec.project;
    this.registerOutputs({ project: this.project, digests: this.digests });
  }
}
