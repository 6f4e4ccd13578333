// The Pulumi program: read and validate the stack's config, then build the Platform (host stack) or the
// AiEnvironment (private/public stacks). index.ts runs it under the real engine; ops/engine.ts under mocks.
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { AiEnvironment } from "./components/ai-environment";
import { Platform } from "./components/platform";
import { capacityReport, renderCapacityTable } from "./lib/capacity/report";
import { memoryProblem } from "./lib/capacity/services";
import { ConfigError, OFFLINE_SECRET_PLACEHOLDER, loadConfig, type StackConfig } from "./lib/config/load";
import { alertSecretProblems } from "./lib/monitoring/alertmanager";
import type { EnvironmentConfig, HostConfig } from "./lib/config/schema";
import { environmentCatalog, environmentStack } from "./lib/compose/services";
import { validateStackSpec } from "./lib/compose/spec";
import { buildContextProblem } from "./lib/build-context";
import { checkAgainstSlice, checkToken, type EnvironmentSlice } from "./lib/environment-slice";

export interface ProgramOptions {
  /** Set by the offline engine only: secrets it cannot decrypt become placeholders. */
  offline?: boolean;
}

function isSecretKey(key: string): boolean {
  // Internal to @pulumi/pulumi but stable since 3.x: the runtime's own record of which config keys are secret. Not
  // part of the package's typed exports, hence require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
  return runtimeConfig.isConfigSecret?.(key) ?? false;
}

/** Reads and validates this stack's config; throws ConfigError listing every problem. */
export function readStackConfig(options: ProgramOptions = {}): StackConfig {
  const values = pulumi.runtime.allConfig();
  const secretKeys = Object.keys(values).filter(isSecretKey);
  return loadConfig({ values, secretKeys }, options);
}

function providerArgs(
  c: HostConfig | EnvironmentConfig,
  apiToken: pulumi.Input<string>,
  sshPrivateKey: string | undefined,
  nodes: { name: string; address: string }[],
): proxmoxve.ProviderArgs {
  return {
    endpoint: c.proxmox.endpoint,
    apiToken: pulumi.secret(apiToken),
    insecure: c.proxmox.insecure,
    minTls: c.proxmox.minTls,
    randomVmIds: false,
    ssh: {
      username: c.proxmox.ssh.username,
      agent: c.proxmox.ssh.agent,
      ...(sshPrivateKey ? { privateKey: pulumi.secret(sshPrivateKey) } : {}),
      nodes,
    },
  };
}

async function hostProgram(c: HostConfig, secrets: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  const alerts = c.platform.monitoring.alerts;
  // The offline engine's placeholders are no URLs; a real run checks the secret URLs against their origins.
  const real = (v: string | undefined) => (v === OFFLINE_SECRET_PLACEHOLDER ? undefined : v);
  const alertProblems = alertSecretProblems(alerts, { webhookUrl: real(secrets.alertWebhookUrl), heartbeatUrl: real(secrets.alertHeartbeatUrl) });
  if (alertProblems.length > 0) throw new ConfigError(alertProblems);
  const provider = new proxmoxve.Provider(
    "proxmox",
    providerArgs(
      c,
      secrets.proxmoxApiToken!,
      secrets.sshPrivateKey,
      c.nodes.map((n) => ({ name: n.name, address: n.address })),
    ),
  );
  const platform = new Platform(
    "platform",
    {
      config: c,
      stack: pulumi.getStack(),
      sshPrivateKey: pulumi.secret(secrets.sshPrivateKey ?? ""),
      vaultToken: secrets.vaultToken === undefined ? undefined : pulumi.secret(secrets.vaultToken),
      pbsPassword: pulumi.secret(secrets.pbsPassword ?? ""),
      pbsEncryptionKey: secrets.pbsEncryptionKey === undefined ? undefined : pulumi.secret(secrets.pbsEncryptionKey),
      alertSecrets: pulumi.secret({ smtpPassword: secrets.alertSmtpPassword, webhookUrl: secrets.alertWebhookUrl, heartbeatUrl: secrets.alertHeartbeatUrl }),
    },
    { providers: [provider] },
  );
  if (!alerts.email && !alerts.webhook) {
    pulumi.log.warn("alerts reach no one: configure a receiver under platform.monitoring.alerts (e-mail or a webhook; README, Operations: alerts)");
  }
  if (!alerts.heartbeat) {
    pulumi.log.info("no dead man's switch: set platform.monitoring.alerts.heartbeat so that a silent Alertmanager is noticed (README, Operations: alerts)");
  }
  if (secrets.vaultToken === undefined) {
    pulumi.log.info(
      "Vault is installed but not configured: initialise and unseal it (README, Vault), then set the secret config vaultToken and run `pulumi up` again",
    );
  }
  return {
    environments: platform.environments,
    tokens: platform.tokens,
    containers: platform.containers,
    platformCaCert: platform.caCert,
    ...(platform.vaultAppRoles ? { vaultAppRoles: platform.vaultAppRoles } : {}),
    ...(platform.pbsEncryptionKey ? { pbsEncryptionKey: platform.pbsEncryptionKey } : {}),
    resticCredentials: platform.resticCredentials,
    grafanaUrl: platform.grafanaUrl,
    grafanaAdminPassword: platform.grafanaAdminPassword,
    ...(platform.gitea ? { gitea: platform.gitea } : {}),
    // The platform has no Vault AppRole of its own: Gitea's credentials are this stack's secret output.
    catalog: { backups: true, credentials: "stack output gitea (secret)", entries: platform.catalog },
  };
}

async function environmentProgram(c: EnvironmentConfig, secrets: Record<string, string | undefined>, offline: boolean): Promise<Record<string, unknown>> {
  const env = c.role;
  const host = new pulumi.StackReference("host", { name: c.hostStack });
  // Plain values, read before any other resource: the zone, pool and GPU mapping are known at preview.
  const environments = (await host.getOutputDetails("environments")).value as Record<string, EnvironmentSlice> | undefined;
  const slice = environments?.[env];
  const problems = checkAgainstSlice(c, slice, c.hostStack);
  // The offline engine has only a placeholder token, whose identity it cannot check.
  if (slice && !offline) problems.push(...checkToken(secrets.proxmoxApiToken!, slice));
  // What Compose itself would refuse (two services on one port), and build contexts that are not there.
  const catalog = environmentCatalog(c, pulumi.getStack());
  const spec = environmentStack(c, pulumi.getStack(), catalog);
  problems.push(...validateStackSpec(spec, { publicBindAllowed: env === "public" ? ["ingress"] : [] }).map((p) => `ai-dualstack:services: ${p}`));
  for (const s of spec.services) {
    const problem = s.build ? buildContextProblem(s.build.context, s.build.dockerfile) : undefined;
    if (problem) problems.push(`ai-dualstack:services: ${s.name}: build context ${problem}`);
  }
  const capacity = slice
    ? capacityReport(c, slice.gpu, { reservedVramMiB: catalog.reservedVramMiB, services: spec.services, budget: slice.memory })
    : undefined;
  // The VM's memory is pinned (passthrough): services that outgrow it would be killed by the OOM killer, not slowed.
  if (capacity?.memory && !capacity.memory.fits) problems.push(`ai-dualstack:gpuVm.memoryGiB: ${memoryProblem(capacity.memory)}`);
  if (problems.length > 0 || !capacity) throw new ConfigError(problems);
  const provider = new proxmoxve.Provider("proxmox", providerArgs(c, secrets.proxmoxApiToken!, secrets.sshPrivateKey, slice!.nodes));
  if (!capacity.fits) {
    pulumi.log.warn(`the environment does not fit the ${slice!.gpu.catalog} (${slice!.gpu.name}) or its VM:\n${renderCapacityTable(capacity)}`);
  }
  const environment = new AiEnvironment(
    env,
    {
      config: c,
      slice: slice!,
      stack: pulumi.getStack(),
      capacity,
      vaultAppRole: pulumi.secret({ roleId: secrets.vaultRoleId!, secretId: secrets.vaultSecretId! }),
      platformCaCert: host.getOutput("platformCaCert") as pulumi.Output<string>,
      sshPrivateKey: secrets.sshPrivateKey === undefined ? undefined : pulumi.secret(secrets.sshPrivateKey),
      restic:
        secrets.resticPassword !== undefined && secrets.resticPrivateKey !== undefined
          ? pulumi.secret({ password: secrets.resticPassword, privateKey: secrets.resticPrivateKey })
          : undefined,
      rcloneConfig: secrets.rcloneConfig === undefined ? undefined : pulumi.secret(secrets.rcloneConfig),
      oauth2ClientSecret: secrets.oauth2ClientSecret === undefined ? undefined : pulumi.secret(secrets.oauth2ClientSecret),
    },
    { providers: [provider] },
  );
  if (secrets.resticPassword === undefined || secrets.resticPrivateKey === undefined) {
    pulumi.log.info("file-level backups are off: set the secret config resticPassword and resticPrivateKey from the host stack's resticCredentials output");
  }
  return {
    gpuVm: environment.gpuVm,
    containers: environment.containers,
    ollamaUrl: environment.ollamaUrl,
    models: environment.models,
    caCert: environment.caCert,
    gateways: environment.gateways,
    ...(environment.qdrantApiKey ? { qdrantApiKey: environment.qdrantApiKey } : {}),
    capacity,
    catalog: { vaultMount: slice!.vault.mount, backups: secrets.resticPassword !== undefined, entries: catalog.entries },
  };
}

export async function runProgram(options: ProgramOptions = {}): Promise<Record<string, unknown>> {
  try {
    const loaded = readStackConfig(options);
    return loaded.role === "host"
      ? await hostProgram(loaded.config, loaded.secrets)
      : await environmentProgram(loaded.config, loaded.secrets, options.offline === true);
  } catch (err) {
    // A RunError ends the program with its message only: no stack trace, nothing registered after it.
    if (err instanceof ConfigError && !options.offline) throw new pulumi.RunError(err.message);
    throw err;
  }
}
