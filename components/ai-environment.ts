import { ipOf } from "../lib/net";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { CapacityReport } from "../lib/capacity/report";
import { OLLAMA_PORT, QDRANT_PORT, environmentStack } from "../lib/compose/services";
import { publishedPortRules } from "../lib/compose/spec";
import type { EnvironmentConfig } from "../lib/config/schema";
import { ADMIN_USER } from "../lib/cloud-init";
import type { EnvironmentSlice } from "../lib/environment-slice";
import { ComposeStack } from "./compose-stack";
import { GpuVm } from "./gpu-vm";
import { ModelDeployment } from "./model-deployment";
import { ServiceContainer } from "./service-container";
import { Tenants } from "./tenants";

export interface AiEnvironmentArgs {
  config: EnvironmentConfig;
  /** What the host stack gives this environment (and nothing of the other one). */
  slice: EnvironmentSlice;
  stack: string;
  /** The capacity report of the model deployments (lib/capacity/report.ts). */
  capacity: CapacityReport;
  /** This environment's Vault AppRole (secret config), for the tenants' credentials. */
  vaultAppRole?: pulumi.Input<{ roleId: string; secretId: string }>;
}

/** The data services' administrators: the tenant provisioning logs in as these. */
export const DATA_ADMINS = { postgres: { user: "ai_admin", port: 5432 }, redis: { port: 6379 } } as const;

/** The services each data container runs, by its config key. */
export const DATA_SERVICES = { postgres: "postgres", redis: "redis" } as const;

/**
 * One AI environment: its GPU VM and its own data LXCs (PostgreSQL, Redis), all in its pool, on its zone bridge,
 * on its datastores. Data services are per environment: PostgreSQL roles are cluster-global and Redis databases
 * are no security boundary.
 */
export class AiEnvironment extends pulumi.ComponentResource {
  public readonly gpuVm: { vmId: number; name: string; address: string };
  public readonly containers: Record<string, { vmId: number; hostname: string; address: string }>;
  public readonly ollamaUrl: string;
  public readonly models: string[];

  constructor(name: string, args: AiEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:environment:AiEnvironment", name, {}, opts);
    const { config: c, slice } = args;
    const env = c.role;
    const nameservers = c.gpuVm.nameservers;

    const vmIp = ipOf(c.gpuVm.address);
    const spec = environmentStack(c, args.stack);
    const vm = new GpuVm(`${name}-gpu`, {
      nodeName: c.node,
      env,
      stack: args.stack,
      vmId: c.gpuVm.vmId,
      dataVmId: c.gpuVm.dataVmId,
      poolId: slice.pool,
      datastoreId: slice.datastores.guests,
      filesDatastoreId: slice.datastores.files,
      imageFileId: slice.images.cloudImage,
      cores: c.gpuVm.cores,
      memoryGiB: c.gpuVm.memoryGiB,
      hugepages: c.gpuVm.hugepages,
      osDiskGiB: c.gpuVm.osDiskGiB,
      dataDiskGiB: c.gpuVm.dataDiskGiB,
      bridge: slice.zone.bridge,
      address: c.gpuVm.address,
      gateway: slice.zone.gateway,
      nameservers,
      searchDomain: c.gpuVm.searchDomain,
      gpuMapping: slice.gpuMapping,
      sshKeys: c.sshKeys,
      nvidiaDriverPackage: c.gpuVm.nvidiaDriverPackage,
      agentTimeout: c.gpuVm.agentTimeout,
      firewallRules: publishedPortRules(spec, vmIp),
      nicFirewall: c.gpuVm.nicFirewall,
    }, { parent: this });

    // Administrator passwords of the data services, generated here; the tenants' providers log in with them.
    const adminPassword = (service: string) => pulumi.secret(new random.RandomPassword(`${name}-${service}-admin-password`, { length: 40, special: false }, { parent: this }).result);
    const admins = { postgres: adminPassword("postgres"), redis: adminPassword("redis") };

    this.containers = {};
    for (const [key, spec] of Object.entries(c.containers)) {
      const hostname = `${env}-${key}`;
      new ServiceContainer(`${name}-${key}`, {
        ...spec,
        nodeName: c.node,
        hostname,
        service: DATA_SERVICES[key as keyof typeof DATA_SERVICES],
        env,
        stack: args.stack,
        zone: env,
        poolId: slice.pool,
        datastoreId: slice.datastores.guests,
        templateFileId: slice.images.lxcTemplate,
        bridge: slice.zone.bridge,
        gateway: slice.zone.gateway,
        nameservers,
        sshKeys: c.sshKeys,
      }, { parent: this });
      this.containers[key] = { vmId: spec.vmId, hostname, address: spec.address };
    }
    // The AI services in the GPU VM, through its Docker engine over SSH.
    const services = new ComposeStack(`${name}-services`, {
      spec,
      dockerHost: `ssh://${ADMIN_USER}@${vmIp}`,
      env,
      stack: args.stack,
      publicServices: env === "public" ? ["ingress"] : [],
    }, { parent: this, dependsOn: [vm] });

    this.ollamaUrl = `http://${vmIp}:${OLLAMA_PORT}`;
    c.models.forEach((deployment, i) => {
      new ModelDeployment(`${name}-model-${deployment.name.replace(/[^a-z0-9]+/g, "-")}`, {
        host: this.ollamaUrl,
        deployment,
        capacity: args.capacity.models[i],
        keepAlive: c.ollama.keepAlive,
      }, { parent: this, dependsOn: [services.containers.ollama] });
    });
    this.models = c.models.map((m) => m.name);

    if (c.tenants.length > 0) {
      if (!args.vaultAppRole) throw new Error(`${env}: tenants need the environment's Vault AppRole (vaultRoleId, vaultSecretId)`);
      new Tenants(`${name}-tenants`, {
        tenants: c.tenants,
        postgres: { host: ipOf(c.containers.postgres.address), port: DATA_ADMINS.postgres.port, user: DATA_ADMINS.postgres.user, password: admins.postgres },
        redis: { host: ipOf(c.containers.redis.address), port: DATA_ADMINS.redis.port, password: admins.redis },
        qdrant: { url: `http://${vmIp}:${QDRANT_PORT}`, apiKey: services.secrets["qdrant-api-key"] },
        vault: { address: slice.vault.address, mount: slice.vault.mount, appRole: args.vaultAppRole },
      }, { parent: this, dependsOn: [services.containers.qdrant] });
    }

    this.gpuVm = { vmId: vm.vmId, name: vm.name, address: vm.address };
    this.registerOutputs({ gpuVm: this.gpuVm, containers: this.containers, ollamaUrl: this.ollamaUrl, models: this.models });
  }
}
