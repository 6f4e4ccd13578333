import { ipOf } from "../lib/net";
import * as pulumi from "@pulumi/pulumi";
import type { CapacityReport } from "../lib/capacity/report";
import { OLLAMA_PORT, QDRANT_PORT, environmentCatalog, environmentStack, gatewayMaterial, gatewayRoutes } from "../lib/compose/services";
import { fillTemplate } from "../lib/compose/spec";
import { CA_MATERIAL } from "../lib/catalog/types";
import { RCLONE_CONFIG_MATERIAL } from "../lib/catalog/object-storage";
import { EXTERNAL_CLIENT_SECRET } from "../lib/catalog/identity";
import { ServiceDependencies } from "./service-dependencies";
import { publishedPortRules } from "../lib/compose/spec";
import type { EnvironmentConfig } from "../lib/config/schema";
import { durationSeconds } from "../lib/config/fields";
import { ADMIN_USER, gpuVmUserDataInput } from "../lib/cloud-init";
import type { EnvironmentSlice } from "../lib/environment-slice";
import { ComposeStack } from "./compose-stack";
import { GpuVm } from "./gpu-vm";
import { ModelDeployment, deployModels } from "./model-deployment";
import { ServiceContainer } from "./service-container";
import { Tenants } from "./tenants";
import { CertificateAuthority } from "./certificate-authority";
import { VaultSecrets, type VaultTarget } from "./vault-secrets";
import { keptPassword, type SecretKeeper } from "./kept-secrets";
import * as command from "@pulumi/command";
import { MANAGEMENT_IPSET, type FirewallRule } from "../lib/firewall";
import { POSTGRES_ADMIN, POSTGRES_PORT, REDIS_PORT, renderPostgresInstallScript, renderRedisInstallScript } from "../lib/data-services";
import { stdinBundle, viaSudo } from "../lib/shell";
import { renderTelemetryInstallScript } from "../lib/monitoring/telemetry";
import { environmentSources, resticInstallName, resticRepository } from "../lib/backup/plan";
import { renderResticInstallScript } from "../lib/backup/restic";
import { renderAptProxyScript } from "../lib/package-cache";

export interface AiEnvironmentArgs {
  config: EnvironmentConfig;
  /** What the host stack gives this environment (and nothing of the other one). */
  slice: EnvironmentSlice;
  stack: string;
  /** The capacity report of the model deployments (lib/capacity/report.ts). */
  capacity: CapacityReport;
  /** This environment's Vault AppRole (secret config): every generated credential is written with it. */
  vaultAppRole: pulumi.Input<{ roleId: string; secretId: string }>;
  /** The platform CA (host output platformCaCert): Vault's certificate chains to it. */
  platformCaCert?: pulumi.Input<string>;
  /** SSH to the data LXCs as root for their install scripts; the SSH agent when absent. */
  sshPrivateKey?: pulumi.Input<string>;
  /** This environment's restic repository credentials (secret config); without them no file-level backups. */
  restic?: pulumi.Input<{ password: string; privateKey: string }>;
  /** The catalog's secret config: Rclone's remotes (rclone.conf) and another OIDC provider's client secret. */
  rcloneConfig?: pulumi.Input<string>;
  oauth2ClientSecret?: pulumi.Input<string>;
}

/** The data services' administrators: the tenant provisioning logs in as these. */
export const DATA_ADMINS = { postgres: { user: POSTGRES_ADMIN, port: POSTGRES_PORT }, redis: { port: REDIS_PORT } } as const;

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
  /** The environment CA's certificate (PEM): what clients of its TLS services trust. */
  public readonly caCert: pulumi.Output<string>;
  /** Every service the VM's TLS gateway serves, by name: "qdrant" → "https://10.30.0.10:6333". */
  public readonly gateways: Record<string, string>;
  /** Qdrant's API key (secret; public only): the drill counts the collections with it. */
  public readonly qdrantApiKey?: pulumi.Output<string>;

  constructor(name: string, args: AiEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:environment:AiEnvironment", name, {}, opts);
    const { config: c, slice } = args;
    const env = c.role;
    const nameservers = c.gpuVm.nameservers;

    const vmIp = ipOf(c.gpuVm.address);
    // The catalog's services, rendered once: the compose stack, the gateway's routes and the databases they need.
    const catalog = environmentCatalog(c, args.stack);
    const spec = environmentStack(c, args.stack, catalog);
    const vm = new GpuVm(
      `${name}-gpu`,
      {
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
        userData: gpuVmUserDataInput(c, slice.packages.aptProxy),
        agentTimeout: c.gpuVm.agentTimeout,
        firstBoot: { privateKey: args.sshPrivateKey, timeoutSeconds: durationSeconds(c.gpuVm.firstBootTimeout) },
        firewallRules: publishedPortRules(spec, vmIp),
        nicFirewall: c.gpuVm.nicFirewall,
      },
      { parent: this },
    );

    // Every generated credential that guards kept data is kept in the environment's Vault mount (kept/…).
    const vault: VaultTarget = { address: slice.vault.address, mount: slice.vault.mount, appRole: args.vaultAppRole, caCert: args.platformCaCert };
    const keeper: SecretKeeper = { vault };
    // Administrator passwords of the data services, generated here; the tenants' providers log in with them.
    const adminPassword = (service: string) => keptPassword(`${name}-${service}-admin-password`, 40, keeper, this);
    const admins = { postgres: adminPassword("postgres"), redis: adminPassword("redis") };
    // The environment's own CA: every service reached across the network has its own certificate from it —
    // PostgreSQL and Redis in their LXCs, and each port the VM's TLS gateway serves (Qdrant, Chroma, the UI).
    const ca = new CertificateAuthority(`${name}-ca`, { commonName: `ai-dualstack ${env} CA` }, { parent: this });
    const pgIp = ipOf(c.containers.postgres.address);
    const redisIp = ipOf(c.containers.redis.address);
    const pgCert = ca.issue("postgres", { commonName: `${env}-postgres`, ipAddresses: [pgIp], dnsNames: [`${env}-postgres`] });
    const redisCert = ca.issue("redis", { commonName: `${env}-redis`, ipAddresses: [redisIp], dnsNames: [`${env}-redis`] });
    const gatewayCerts = Object.fromEntries(
      gatewayRoutes(c, catalog).map((r) => [
        r.service,
        ca.issue(r.service, { commonName: `${env}-${r.service}`, ipAddresses: [vmIp], dnsNames: [`${env}-${r.service}`] }),
      ]),
    );

    const fromOperators = (port: number, what: string): FirewallRule[] => [
      {
        type: "in",
        action: "ACCEPT",
        source: `+${MANAGEMENT_IPSET}`,
        proto: "tcp",
        dport: String(port),
        comment: `${what} from the ${MANAGEMENT_IPSET} IP set (tenant provisioning)`,
      },
    ];
    const installs = {
      postgres: {
        rules: fromOperators(POSTGRES_PORT, "PostgreSQL"),
        script: renderPostgresInstallScript({ ip: pgIp, clientCidrs: [slice.zone.cidr, ...slice.operatorCidrs] }),
        stdin: pulumi
          .all([admins.postgres, pgCert.keyPem, pgCert.certPem, ca.certPem])
          .apply(([pw, key, crt, caPem]) => stdinBundle({ secretLine: pw, pems: [key, crt, caPem] })),
      },
      redis: {
        rules: fromOperators(REDIS_PORT, "Redis"),
        script: renderRedisInstallScript({ ip: redisIp, configDir: "/etc/redis", dataDir: c.containers.redis.data?.path ?? "/var/lib/redis" }),
        stdin: pulumi
          .all([admins.redis, redisCert.keyPem, redisCert.certPem, ca.certPem])
          .apply(([pw, key, crt, caPem]) => stdinBundle({ secretLine: pw, pems: [key, crt, caPem] })),
      },
    };

    this.containers = {};
    const ready: pulumi.Resource[] = [];
    for (const [key, spec] of Object.entries(c.containers)) {
      const hostname = `${env}-${key}`;
      const install = installs[key as keyof typeof installs];
      const guest = new ServiceContainer(
        `${name}-${key}`,
        {
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
          rules: install.rules,
        },
        { parent: this },
      );
      // Installed and configured over SSH, packages through the platform's cache; passwords and keys on stdin only.
      const connection = { host: ipOf(spec.address), user: "root", ...(args.sshPrivateKey ? { privateKey: args.sshPrivateKey } : {}) };
      const apt = new command.remote.Command(
        `${name}-${key}-apt`,
        { connection, create: renderAptProxyScript(slice.packages.aptProxy) },
        { parent: this, dependsOn: [guest.container] },
      );
      ready.push(
        new command.remote.Command(
          `${name}-${key}-install`,
          { connection, create: install.script, stdin: pulumi.secret(install.stdin) },
          { parent: this, dependsOn: [guest.container, apt], additionalSecretOutputs: ["stdin"] },
        ),
      );
      this.containers[key] = { vmId: spec.vmId, hostname, address: spec.address };
    }
    // The catalog's services get their own database and Redis user before they start.
    const deps = new ServiceDependencies(
      `${name}-catalog`,
      {
        databases: catalog.databases,
        redisUsers: catalog.redisUsers,
        postgres: { host: pgIp, port: DATA_ADMINS.postgres.port, user: DATA_ADMINS.postgres.user, password: admins.postgres, caCert: ca.certPem },
        redis: { host: redisIp, port: DATA_ADMINS.redis.port, password: admins.redis, caCert: ca.certPem },
        keeper,
      },
      { parent: this, dependsOn: ready },
    );

    // The AI services in the GPU VM, through its Docker engine over SSH.
    const services = new ComposeStack(
      `${name}-services`,
      {
        spec,
        dockerHost: `ssh://${ADMIN_USER}@${vmIp}`,
        env,
        stack: args.stack,
        publicServices: env === "public" ? ["ingress"] : [],
        materials: {
          ...Object.fromEntries(
            Object.entries(gatewayCerts).flatMap(([service, cert]) => [
              [gatewayMaterial(service).cert, cert.certPem],
              [gatewayMaterial(service).key, cert.keyPem],
            ]),
          ),
          // The environment CA: what the catalog's services verify PostgreSQL and Redis with.
          [CA_MATERIAL]: ca.certPem,
          ...(args.rcloneConfig !== undefined ? { [RCLONE_CONFIG_MATERIAL]: args.rcloneConfig } : {}),
        },
        engineAfter: [vm.firstBoot],
        keeper,
        secretValues: {
          ...deps.secretValues,
          ...(args.oauth2ClientSecret !== undefined ? { [EXTERNAL_CLIENT_SECRET]: args.oauth2ClientSecret } : {}),
        },
      },
      { parent: this, dependsOn: deps.resources },
    );

    // File-level backups: every machine streams its sources (volumes, the PostgreSQL dump, Redis's data) into the
    // environment's restic repository on the backup LXC; check and retention run there.
    if (args.restic !== undefined) {
      const sources = environmentSources(c, args.stack, spec.volumes);
      const stdin = pulumi.secret(pulumi.output(args.restic).apply((r) => stdinBundle({ secretLine: r.password, pems: [r.privateKey] })));
      const ssh = (host: string, user: string) => ({ host, user, ...(args.sshPrivateKey ? { privateKey: args.sshPrivateKey } : {}) });
      const machines = [
        { key: "gpu-vm", connection: ssh(vmIp, ADMIN_USER), sudo: true, after: [services] as pulumi.Resource[] },
        { key: "postgres", connection: ssh(pgIp, "root"), sudo: false, after: ready },
        { key: "redis", connection: ssh(redisIp, "root"), sudo: false, after: ready },
      ];
      for (const m of machines) {
        const script = renderResticInstallScript(resticRepository(env, slice.backup.repository, slice.backup.restic, sources[m.key]), "client");
        new command.remote.Command(
          resticInstallName(name, m.key),
          {
            connection: m.connection,
            // The VM's admin user runs it through sudo; the script comes in a file so that stdin stays the secrets'.
            create: m.sudo ? viaSudo(script) : script,
            stdin,
          },
          { parent: this, dependsOn: m.after, additionalSecretOutputs: ["stdin"] },
        );
      }
    }

    // Telemetry on every guest: node exporter and Alloy (logs to this environment's port of the log gateway); on the
    // VM also cAdvisor and the model probe. The monitoring container finds the guests through the Proxmox API.
    if (args.platformCaCert !== undefined) {
      const m = slice.monitoring;
      const ssh = (host: string, user: string) => ({ host, user, ...(args.sshPrivateKey ? { privateKey: args.sshPrivateKey } : {}) });
      const telemetry = (host: string, ip: string, extra: { docker: boolean; composeProject?: string; probe?: { url: string; expected: string[] } }) =>
        renderTelemetryInstallScript({
          tenant: env,
          host,
          ip,
          pushUrl: m.logPushUrl,
          alloyVersion: m.alloyVersion,
          aptKeyFingerprints: m.aptKeyFingerprints,
          ...extra,
        });
      const guests = [
        {
          key: "gpu-vm",
          connection: ssh(vmIp, ADMIN_USER),
          script: viaSudo(
            telemetry(`${env}-gpu`, vmIp, {
              docker: true,
              composeProject: args.stack,
              probe: { url: `http://127.0.0.1:${OLLAMA_PORT}`, expected: c.models.filter((d) => d.warm).map((d) => d.name) },
            }),
          ),
          after: [services] as pulumi.Resource[],
        },
        { key: "postgres", connection: ssh(pgIp, "root"), script: telemetry(`${env}-postgres`, pgIp, { docker: false }), after: ready },
        { key: "redis", connection: ssh(redisIp, "root"), script: telemetry(`${env}-redis`, redisIp, { docker: false }), after: ready },
      ];
      for (const g of guests) {
        new command.remote.Command(
          `${name}-${g.key}-telemetry`,
          { connection: g.connection, create: g.script, stdin: args.platformCaCert },
          { parent: this, dependsOn: g.after },
        );
      }
    }

    this.ollamaUrl = `https://${vmIp}:${OLLAMA_PORT}`;
    deployModels(
      c.models,
      (deployment, i, after) =>
        new ModelDeployment(
          `${name}-model-${deployment.name.replace(/[^a-z0-9]+/g, "-")}`,
          {
            host: this.ollamaUrl,
            caCert: ca.certPem,
            deployment,
            capacity: args.capacity.models[i],
            keepAlive: c.ollama.keepAlive,
          },
          { parent: this, dependsOn: [services.containers.ollama, services.containers.gateway, ...after] },
        ),
    );
    this.models = c.models.map((m) => m.name);

    const pgUrl = (user: string, password: pulumi.Input<string>) =>
      pulumi.interpolate`postgresql://${user}:${password}@${pgIp}:${POSTGRES_PORT}/postgres?sslmode=verify-full`;
    new VaultSecrets(
      `${name}-secrets`,
      {
        vault,
        secrets: {
          ...Object.fromEntries(Object.entries(services.secrets).map(([k, v]) => [`services/${k}`, { value: v }])),
          "data/postgres-admin": { user: DATA_ADMINS.postgres.user, password: admins.postgres, url: pgUrl(DATA_ADMINS.postgres.user, admins.postgres) },
          "data/redis-admin": { user: "default", password: admins.redis, url: pulumi.interpolate`rediss://default:${admins.redis}@${redisIp}:${REDIS_PORT}/0` },
          "tls/ca": { cert: ca.certPem },
          // Each catalog service's credentials and endpoints, for its operators and its other clients.
          ...Object.fromEntries(
            Object.entries(catalog.vaultByEntry).map(([key, record]) => [
              `catalog/${key}`,
              Object.fromEntries(
                Object.entries(record).map(([k, v]) => [
                  k,
                  typeof v === "string" ? v : pulumi.secret(pulumi.all(services.secrets).apply((values) => fillTemplate(v.template, values))),
                ]),
              ),
            ]),
          ),
          ...Object.fromEntries(
            Object.entries({ postgres: pgCert, redis: redisCert, ...gatewayCerts }).map(([service, cert]) => [
              `tls/${service}`,
              { cert: cert.certPem, key: cert.keyPem },
            ]),
          ),
        },
      },
      { parent: this, dependsOn: [...ready, ...deps.resources] },
    );

    if (c.tenants.length > 0) {
      new Tenants(
        `${name}-tenants`,
        {
          tenants: c.tenants,
          postgres: { host: pgIp, port: DATA_ADMINS.postgres.port, user: DATA_ADMINS.postgres.user, password: admins.postgres, caCert: ca.certPem },
          redis: { host: redisIp, port: DATA_ADMINS.redis.port, password: admins.redis, caCert: ca.certPem },
          qdrant: { url: `https://${vmIp}:${QDRANT_PORT}`, apiKey: services.secrets["qdrant-api-key"], caCert: ca.certPem },
          vault,
        },
        { parent: this, dependsOn: [services.containers.qdrant, services.containers.gateway, ...ready] },
      );
    }

    this.gpuVm = { vmId: vm.vmId, name: vm.name, address: vm.address };
    this.caCert = ca.certPem;
    this.gateways = Object.fromEntries(gatewayRoutes(c, catalog).map((r) => [r.service, `https://${vmIp}:${r.port}`]));
    const qdrantKey = services.secrets["qdrant-api-key"];
    this.qdrantApiKey = qdrantKey === undefined ? undefined : pulumi.secret(qdrantKey);
    this.registerOutputs({
      gpuVm: this.gpuVm,
      containers: this.containers,
      ollamaUrl: this.ollamaUrl,
      models: this.models,
      caCert: this.caCert,
      gateways: this.gateways,
      qdrantApiKey: this.qdrantApiKey,
    });
  }
}
