import { CONTAINER_LOGGING, CONTAINER_SECURITY_OPTS, containerName } from "../lib/compose/container";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  composeLabels,
  fillTemplate,
  hasSecretEnvironment,
  hasSecretFiles,
  materialNames,
  secretNames,
  startOrder,
  validateStackSpec,
  type EnvValue,
  type StackSpec,
} from "../lib/compose/spec";
import { buildTriggers } from "../lib/build-context";
import { dockerLabels, type GuestEnvironment } from "../lib/tags";
import { keptServiceSecret, type SecretKeeper } from "./kept-secrets";

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
  /** Secrets made elsewhere (a service's database password), by the name its templates use; the rest are generated. */
  secretValues?: Record<string, pulumi.Input<string>>;
  /** What must be over before anything touches the engine (the VM's first boot, the engine's install). */
  engineAfter?: pulumi.Resource[];
  /**
   * Where the generated secrets are kept: they guard the stack's volumes (a database's password set at its first
   * start, an encryption key over stored data). Absent only for the host stack before Vault is initialised.
   */
  keeper?: SecretKeeper;
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

    const provider = new docker.Provider(
      `${name}-engine`,
      {
        host: args.dockerHost,
        sshOpts: ["-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=15"],
      },
      // Every resource on the engine uses this provider (children do not inherit the component's dependsOn): what it
      // waits for, nothing on the engine starts before.
      { parent: this, dependsOn: args.engineAfter },
    );
    const child = { parent: this, provider };
    const labels = (extra: Record<string, string>) =>
      Object.entries({ ...dockerLabels(args.env, args.stack), ...extra }).map(([label, value]) => ({ label, value }));

    const networks = Object.fromEntries(
      spec.networks.map((n) => [
        n.name,
        new docker.Network(
          `${name}-net-${n.name}`,
          {
            name: `${spec.project}_${n.name}`,
            internal: n.internal,
            labels: labels({ "com.docker.compose.project": spec.project, "com.docker.compose.network": n.name }),
          },
          child,
        ),
      ]),
    );
    // Volumes hold the model store and vector data: they survive `pulumi destroy` and a rebuild of the stack.
    const volumes = Object.fromEntries(
      spec.volumes.map((v) => [
        v,
        new docker.Volume(
          `${name}-vol-${v}`,
          {
            name: `${spec.project}_${v}`,
            labels: labels({ "com.docker.compose.project": spec.project, "com.docker.compose.volume": v }),
          },
          { ...child, retainOnDelete: true, protect: true },
        ),
      ]),
    );
    // Pulled by tag, or built on the engine from a directory of this repository (rebuilt when a file in it changes).
    const images = Object.fromEntries(
      [...new Map(spec.services.map((s) => [s.image, s.build])).entries()].map(([image, build]) => [
        image,
        new docker.RemoteImage(
          `${name}-img-${image.replace(/[^a-z0-9]+/gi, "-")}`,
          {
            name: image,
            keepLocally: true,
            ...(build
              ? {
                  build: {
                    context: build.context,
                    dockerfile: build.dockerfile ?? "Dockerfile",
                    buildArgs: build.args,
                    tags: [image],
                    labels: dockerLabels(args.env, args.stack),
                  },
                  triggers: buildTriggers(build.context),
                }
              : {}),
          },
          child,
        ),
      ]),
    );
    const given = args.secretValues ?? {};
    this.secrets = Object.fromEntries(
      secretNames(spec).map((secret) => [
        secret,
        pulumi.secret(secret in given ? pulumi.output(given[secret]) : keptServiceSecret(name, secret, args.keeper, this)),
      ]),
    );
    const all = pulumi.all(this.secrets);
    const value = (k: string, v: EnvValue): pulumi.Output<string> =>
      // Secret whatever the engine does with additionalSecretOutputs: the whole env list is then stored encrypted.
      typeof v === "string"
        ? pulumi.output(`${k}=${v}`)
        : "secret" in v
          ? pulumi.interpolate`${k}=${this.secrets[v.secret]}`
          : pulumi.secret(all.apply((values) => `${k}=${fillTemplate(v.template, values)}`));
    this.containers = {};
    this.digests = {};
    // Each container after the ones it waits for: a dependency created later would otherwise be no dependency at all.
    for (const s of startOrder(spec)) {
      const env = Object.entries(s.environment).map(([k, v]) => value(k, v));
      const image = images[s.image];
      const deps = s.dependsOnHealthy.map((d) => this.containers[d]);
      this.containers[s.name] = new docker.Container(
        `${name}-${s.name}`,
        {
          name: containerName(spec.project, s.name),
          hostname: s.name,
          // The digest resolved at pull time, kept in the state: a moved tag is a visible change, not a silent one. A
          // built image has no registry digest: its image id changes with every rebuild instead.
          image: s.build ? image.imageId : image.repoDigest,
          entrypoints: s.entrypoint,
          command: s.command,
          envs: env,
          ports: s.ports.map((p) => ({ internal: p.container, external: p.host, ip: p.bind, protocol: p.protocol ?? "tcp" })),
          volumes: s.volumes.map((v) => ({ volumeName: volumes[v.volume].name, containerPath: v.path, readOnly: v.readOnly ?? false })),
          uploads: (s.files ?? []).map((f) => ({
            file: f.path,
            content:
              "material" in f
                ? pulumi.secret(args.materials![f.material])
                : "template" in f
                  ? pulumi.secret(all.apply((values) => fillTemplate(f.template, values)))
                  : f.content,
          })),
          networksAdvanced: s.networks.map((n) => ({ name: networks[n].name, aliases: [s.name] })),
          healthcheck: s.healthcheck
            ? {
                tests: s.healthcheck.test,
                interval: s.healthcheck.interval,
                timeout: s.healthcheck.timeout,
                retries: s.healthcheck.retries,
                startPeriod: s.healthcheck.startPeriod,
              }
            : undefined,
          // Wait for healthy before the stack goes on (dependents, model deployments); a setup job runs once.
          wait: s.healthcheck !== undefined,
          waitTimeout: WAIT_TIMEOUT_SECONDS,
          restart: s.restart,
          gpus: s.gpu ? "all" : undefined,
          memory: s.memoryMiB,
          cpus: s.cpus === undefined ? undefined : String(s.cpus),
          shmSize: s.shmSizeMiB,
          mounts: s.dockerSocket ? [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] : undefined,
          labels: labels(composeLabels(spec.project, s.name)),
          logDriver: CONTAINER_LOGGING.driver,
          logOpts: { ...CONTAINER_LOGGING.options },
          securityOpts: [...CONTAINER_SECURITY_OPTS],
          mustRun: !s.oneShot,
          // A setup job: attached until it exits (a non-zero exit fails the update), its output kept.
          ...(s.oneShot ? { attach: true, logs: true } : {}),
        },
        {
          ...child,
          dependsOn: deps,
          deleteBeforeReplace: true,
          // Declared secret as well: policies see secrets unwrapped and can only trust this declaration.
          additionalSecretOutputs: [
            ...(hasSecretEnvironment(s) ? ["envs"] : []),
            ...(hasSecretFiles(s) ? ["uploads"] : []),
            // A setup job's output may echo what it was given.
            ...(s.oneShot ? ["containerLogs"] : []),
          ],
        },
      );
      this.digests[s.name] = image.repoDigest;
    }
    this.project = spec.project;
    this.registerOutputs({ project: this.project, digests: this.digests });
  }
}
