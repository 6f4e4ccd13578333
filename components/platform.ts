import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { AlertSecrets } from "../lib/monitoring/alertmanager";
import { ENVIRONMENTS, type HostConfig } from "../lib/config/schema";
import { datastoresFor, fileId, mirrorPoolOf, type EnvironmentSlice } from "../lib/environment-slice";
import { ipOf } from "../lib/net";
import { backupJobs } from "../lib/backup/jobs";
import { renderResticInstallScript } from "../lib/backup/restic";
import { resticRemote, resticRepository, volumeSource } from "../lib/backup/plan";
import type { EntryPlan } from "../lib/catalog/resolve";
import { GITEA_TLS } from "../lib/catalog/gitea";
import { CA_MATERIAL } from "../lib/catalog/types";
import { publishedPortRules } from "../lib/compose/spec";
import { CICD_PROJECT, platformStack } from "../lib/compose/services";
import { renderDockerEngineScript } from "../lib/docker-engine";
import { platformGuestRules } from "../lib/firewall";
import { renderPackageCacheInstallScript } from "../lib/package-cache";
import { ComposeStack } from "./compose-stack";
import { VAULT_SNAPSHOT_SOURCE } from "../lib/vault/snapshot";
import { stdinBundle } from "../lib/shell";
import * as command from "@pulumi/command";
import { Backups } from "./backups";
import { Monitoring } from "./monitoring";
import { ResticServer, type ResticCredentials } from "./restic-server";
import { CertificateAuthority } from "./certificate-authority";
import { ProxmoxHost } from "./proxmox-host";
import { ServiceContainer } from "./service-container";
import { VaultServer } from "./vault-server";

export interface PlatformArgs {
  config: HostConfig;
  stack: string;
  sshPrivateKey: pulumi.Input<string>;
  /** Vault's administrator token (secret config vaultToken); absent until Vault is initialised. */
  vaultToken?: pulumi.Input<string>;
  /** The PBS user's password (secret config pbsPassword) and optionally its client encryption key. */
  pbsPassword: pulumi.Input<string>;
  pbsEncryptionKey?: pulumi.Input<string>;
  /** The alert receivers' secrets (secret config alertSmtpPassword, alertWebhookUrl, alertHeartbeatUrl). */
  alertSecrets: pulumi.Input<AlertSecrets>;
}

type DownloadSpec = HostConfig["platform"]["lxcTemplate"];

/** A file Proxmox fetches into a datastore, checked against its sha256 when one is configured; never overwritten. */
function download(
  name: string,
  nodeName: string,
  datastoreId: string,
  contentType: "import" | "vztmpl",
  spec: DownloadSpec,
  opts: pulumi.CustomResourceOptions,
) {
  return new proxmoxve.download.File(
    name,
    {
      nodeName,
      datastoreId,
      contentType,
      url: spec.url,
      fileName: spec.fileName,
      overwrite: false,
      ...(spec.checksum ? { checksum: spec.checksum, checksumAlgorithm: "sha256" } : {}),
    },
    opts,
  );
}

/** The services each platform container runs, by its config key. */
export const PLATFORM_SERVICES = { security: "vault", cicd: "gitea", monitoring: "prometheus", backup: "restic", packages: "apt-cacher-ng" } as const;

/**
 * The host stack: the Proxmox host, each environment's images (downloaded here, because Proxmox's download-url needs
 * root-only privileges), and the platform LXCs in the services zone.
 */
export class Platform extends pulumi.ComponentResource {
  /** Per environment, the slice of the host it may use: plain values, known at preview. */
  public readonly environments: Record<string, EnvironmentSlice>;
  /** Per environment, its API token: one secret output, apart from the slices. */
  public readonly tokens: pulumi.Output<Record<string, string>>;
  public readonly containers: Record<string, { vmId: number; address: string }>;
  /** The platform CA's certificate: Vault's (and the platform services') certificates chain to it. */
  public readonly caCert: pulumi.Output<string>;
  /** Per environment the restic repository, password and client key (secret): each environment gets its own. */
  public readonly resticCredentials: pulumi.Output<Record<string, ResticCredentials>>;
  /** The PBS encryption key Proxmox generated (secret), when none was configured. */
  public readonly pbsEncryptionKey?: pulumi.Output<string>;
  /** Grafana (TLS, platform CA) and its admin password (secret). */
  public readonly grafanaUrl: string;
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Per environment its Vault AppRole credentials (secret), once Vault is set up. */
  public readonly vaultAppRoles?: pulumi.Output<Record<string, { roleId: string; secretId: string }>>;
  /** The catalog's platform entries (plain data for `dualstack plan`). */
  public readonly catalog: EntryPlan[];
  /** Gitea's URL and its administrator's credentials (secret), when services.gitea is enabled. */
  public readonly gitea?: { url: string; admin: pulumi.Output<{ user: string; password: string }> };

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:platform:Platform", name, {}, opts);
    const c = args.config;
    const host = new ProxmoxHost(`${name}-host`, { config: c, sshPrivateKey: args.sshPrivateKey }, { parent: this });

    for (const env of ENVIRONMENTS) {
      const access = c.environments[env];
      const files = datastoresFor(mirrorPoolOf(c, access.mirror), env).files;
      for (const nodeName of c.nodes.map((n) => n.name)) {
        download(`${name}-${nodeName}-${env}-cloud-image`, nodeName, files, "import", access.cloudImage, { parent: this, dependsOn: [host] });
        download(`${name}-${nodeName}-${env}-lxc-template`, nodeName, files, "vztmpl", access.lxcTemplate, { parent: this, dependsOn: [host] });
      }
    }

    const platformStores = datastoresFor(mirrorPoolOf(c, c.platform.mirror), "platform");
    const pool = new proxmoxve.PoolLegacy(
      `${name}-pool`,
      { poolId: c.platform.pool, comment: "ai-dualstack platform services" },
      { parent: this, protect: true },
    );
    const template = download(`${name}-${c.platform.node}-lxc-template`, c.platform.node, platformStores.files, "vztmpl", c.platform.lxcTemplate, {
      parent: this,
      dependsOn: [host],
    });

    // The catalog's platform services: Gitea and its runner in Docker in the cicd container, on its own address.
    const cicdIp = ipOf(c.platform.containers.cicd.address);
    const cicdStack = platformStack(c);
    const cicdSpec = cicdStack?.spec;

    this.catalog = cicdStack?.plan.entries ?? [];
    this.containers = {};
    const guests: Record<string, ServiceContainer> = {};
    for (const [key, spec] of Object.entries(c.platform.containers)) {
      const service = PLATFORM_SERVICES[key as keyof typeof PLATFORM_SERVICES];
      guests[key] = new ServiceContainer(
        `${name}-${key}`,
        {
          ...spec,
          nodeName: c.platform.node,
          hostname: `platform-${key}`,
          service,
          env: "platform",
          stack: args.stack,
          zone: "services",
          poolId: pool.poolId,
          datastoreId: platformStores.guests,
          templateFileId: fileId(platformStores.files, "vztmpl", c.platform.lxcTemplate.fileName),
          bridge: c.networks.services.bridge,
          gateway: c.networks.services.gateway,
          nameservers: [c.networks.services.gateway],
          sshKeys: c.platform.sshKeys,
          rules: key === "cicd" ? cicdSpec && publishedPortRules(cicdSpec, cicdIp) : platformGuestRules(key, c.networks),
        },
        { parent: this, dependsOn: [host, template] },
      );
      this.containers[key] = { vmId: spec.vmId, address: spec.address };
    }

    const ca = new CertificateAuthority(`${name}-ca`, { commonName: "ai-dualstack platform CA" }, { parent: this });
    const security = c.platform.containers.security;
    const vault = new VaultServer(
      `${name}-vault`,
      {
        ip: ipOf(security.address),
        hostname: "platform-security",
        dataPath: security.data!.path, // the schema requires it
        connection: { host: ipOf(security.address), user: "root", privateKey: args.sshPrivateKey },
        version: c.platform.vault.version,
        aptKeyFingerprints: c.platform.vault.aptKeyFingerprints,
        ca,
        environments: ENVIRONMENTS,
        operatorCidrs: c.networks.mgmt.adminCidrs,
        token: args.vaultToken,
      },
      { parent: this, dependsOn: [guests.security] },
    );
    this.caCert = ca.certPem;
    this.vaultAppRoles = vault.appRoles;

    // Image-level backups of every pool to the Proxmox Backup Server.
    const backups = new Backups(
      `${name}-backups`,
      {
        pbs: c.backup.pbs,
        nodes: c.nodes.map((n) => n.name),
        password: args.pbsPassword,
        encryptionKey: args.pbsEncryptionKey,
        jobs: backupJobs(c),
        fleecing: c.backup.fleecing,
      },
      { parent: this, dependsOn: [host, pool] },
    );
    this.pbsEncryptionKey = backups.generatedEncryptionKey;

    // The package cache the environments' guests install through.
    const packagesIp = ipOf(c.platform.containers.packages.address);
    new command.remote.Command(
      `${name}-package-cache`,
      { connection: { host: packagesIp, user: "root", privateKey: args.sshPrivateKey }, create: renderPackageCacheInstallScript(packagesIp) },
      { parent: this, dependsOn: [guests.packages] },
    );

    // File-level backups: the environments' restic repositories on the backup LXC.
    const backupSpec = c.platform.containers.backup;
    const restic = new ResticServer(
      `${name}-restic`,
      {
        ip: ipOf(backupSpec.address),
        dataPath: backupSpec.data?.path ?? "/srv/backup",
        connection: { host: ipOf(backupSpec.address), user: "root", privateKey: args.sshPrivateKey },
        repositories: [...ENVIRONMENTS, "platform"],
        backup: c.backup,
        keeper: vault.keeper,
      },
      { parent: this, dependsOn: [guests.backup] },
    );
    this.resticCredentials = restic.credentials;
    // Vault's raft snapshots into the platform's repository, streamed by the security LXC (once Vault is set up).
    if (vault.snapshotInstall) {
      const repo = resticRepository("platform", resticRemote("platform", ipOf(backupSpec.address)), c.backup.restic, [VAULT_SNAPSHOT_SOURCE]);
      new command.remote.Command(
        `${name}-vault-restic`,
        {
          connection: { host: ipOf(security.address), user: "root", privateKey: args.sshPrivateKey },
          create: renderResticInstallScript(repo, "client"),
          stdin: pulumi.secret(restic.credentials.apply((creds) => stdinBundle({ secretLine: creds.platform.password, pems: [creds.platform.privateKey] }))),
        },
        { parent: this, dependsOn: [vault.snapshotInstall, restic], additionalSecretOutputs: ["stdin"] },
      );
    }

    const cicdEngine =
      cicdSpec &&
      new command.remote.Command(
        `${name}-cicd-docker`,
        {
          connection: { host: cicdIp, user: "root", privateKey: args.sshPrivateKey },
          create: renderDockerEngineScript(),
        },
        { parent: this, dependsOn: [guests.cicd] },
      );

    // Prometheus, Loki, Grafana and the exporters, from the inventory: every platform guest and node is a target,
    // the environments' guests are discovered from the Proxmox API.
    const monitoringSpec = c.platform.containers.monitoring;
    const monitoring = new Monitoring(
      `${name}-monitoring`,
      {
        ip: ipOf(monitoringSpec.address),
        vmId: monitoringSpec.vmId,
        dataPath: monitoringSpec.data?.path ?? "/var/lib/monitoring",
        connection: (ip) => ({ host: ip, user: "root", privateKey: args.sshPrivateKey }),
        guests: Object.entries(c.platform.containers).map(([key, spec]) => ({
          key,
          hostname: `platform-${key}`,
          ip: ipOf(spec.address),
          stack: args.stack,
          service: PLATFORM_SERVICES[key as keyof typeof PLATFORM_SERVICES],
          ...(key === "cicd" && cicdEngine ? { compose: { project: CICD_PROJECT, after: cicdEngine } } : {}),
        })),
        nodes: c.nodes.map((n) => ({ name: n.name, address: n.address })),
        platformNode: c.platform.node,
        tlsEndpoints: [vault.address.replace(/^https:\/\//, "")],
        ca,
        caCerts: [ca.certPem],
        settings: c.platform.monitoring,
        alertSecrets: args.alertSecrets,
        keeper: vault.keeper,
      },
      { parent: this, dependsOn: Object.values(guests) },
    );
    this.grafanaUrl = monitoring.grafanaUrl;
    this.grafanaAdminPassword = monitoring.grafanaAdminPassword;

    if (cicdSpec) {
      const root = { host: cicdIp, user: "root", privateKey: args.sshPrivateKey };
      const cert = ca.issue("gitea", { commonName: "platform-cicd", ipAddresses: [cicdIp], dnsNames: ["gitea", "platform-cicd"] });
      const cicd = new ComposeStack(
        `${name}-cicd`,
        {
          spec: cicdSpec,
          dockerHost: `ssh://root@${cicdIp}`,
          env: "platform",
          stack: args.stack,
          engineAfter: [cicdEngine!],
          keeper: vault.keeper,
          materials: { [GITEA_TLS.cert]: cert.certPem, [GITEA_TLS.key]: cert.keyPem, [CA_MATERIAL]: ca.certPem },
        },
        { parent: this, dependsOn: [cicdEngine!] },
      );
      // Its repositories, issues and runner state into the platform's restic repository.
      const repo = resticRepository(
        "platform",
        resticRemote("platform", ipOf(backupSpec.address)),
        c.backup.restic,
        cicdSpec.volumes.map((v) => volumeSource(CICD_PROJECT, v)),
      );
      new command.remote.Command(
        `${name}-cicd-restic`,
        {
          connection: root,
          create: renderResticInstallScript(repo, "client"),
          stdin: pulumi.secret(restic.credentials.apply((creds) => stdinBundle({ secretLine: creds.platform.password, pems: [creds.platform.privateKey] }))),
        },
        { parent: this, dependsOn: [cicd, restic], additionalSecretOutputs: ["stdin"] },
      );
      this.gitea = {
        url: `https://${cicdIp}:${c.services.gitea!.httpsPort}/`,
        admin: pulumi.secret(cicd.secrets["gitea-admin-password"].apply((password) => ({ user: "ops", password }))),
      };
    }

    this.environments = Object.fromEntries(ENVIRONMENTS.map((env) => [env, host.environments[env].slice]));
    this.tokens = pulumi.secret(pulumi.all(Object.fromEntries(ENVIRONMENTS.map((env) => [env, host.environments[env].token]))));
    this.registerOutputs({
      resticCredentials: this.resticCredentials,
      environments: this.environments,
      tokens: this.tokens,
      containers: this.containers,
      caCert: this.caCert,
      vaultAppRoles: this.vaultAppRoles,
    });
  }
}
