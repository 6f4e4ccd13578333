// One config schema per stack role. Unknown keys are errors everywhere (strict objects), so typos cannot pass.
// Cross-field rules (distinct VLANs, addresses inside their zone, GPU mappings per environment) are checked here
// too, so that an invalid configuration stops the program before any resource is registered.
import { z } from "zod";
import { mergeCatalog, type Catalog } from "../capacity/catalog";
import { boxMemoryProblems } from "../capacity/host-memory";
import { alertSecretKeys, alertsProblems, alertsSchema, type AlertsConfig } from "./alerts";
import { tenantNameProblem } from "../tenancy";
import { derivationCycle } from "../model-order";
import { HASHICORP_KEY_FINGERPRINTS } from "../vault/server";
import { GRAFANA_KEY_FINGERPRINTS } from "../monitoring/grafana";
import * as catalog from "../catalog/index";
import { catalogHostnames, catalogProblems, enabledEntries } from "../catalog/resolve";
import { ENVIRONMENT_NEEDS } from "../catalog/types";
import { servedNameOf, vllmFactsOf } from "../catalog/gpu-workloads";
import { rcloneNeedsConfig } from "../catalog/object-storage";

const VAULT_DEFAULTS = { version: "1.21.4", aptKeyFingerprints: HASHICORP_KEY_FINGERPRINTS } as const;
/** The Ollama image the environments run (scripts/ollama.sh builds the same version for the integration tests). */
export const OLLAMA_IMAGE = "ollama/ollama:0.18.2";
export const MONITORING_DEFAULTS = {
  grafanaVersion: "13.2.2",
  lokiVersion: "3.7.8",
  alloyVersion: "1.21.2",
  pveExporterVersion: "3.10.2",
  aptKeyFingerprints: GRAFANA_KEY_FINGERPRINTS,
} as const;
export { imageRef } from "./fields";
import { GUEST_OS, driverPackageFor } from "../guest-os";
import { cidrsOverlap, isHostAddress, parseCidr, parseInterfaceAddress, parseIpv4 } from "../net";
import {
  retentionPeriod,
  packageVersion,
  fingerprints,
  expecting,
  bool,
  bridgeName,
  calendarEvent,
  certFingerprint,
  cidr,
  duration,
  dnsName,
  fileName,
  hostPort,
  httpsUrl,
  imageRef,
  interfaceAddress,
  interfaceName,
  ipv4,
  isoDate,
  label,
  oneOf,
  pattern,
  pciId,
  pciPath,
  proxmoxEndpoint,
  sha256,
  sshPublicKey,
  stableDiskPath,
  text,
  vlanId,
  vmId,
  wholeNumber,
  zfsPoolName,
} from "./fields";

export const ENVIRONMENTS = ["private", "public"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];
export const ROLES = ["host", ...ENVIRONMENTS] as const;
export type Role = (typeof ROLES)[number];

/** LXC features a container may ask for. fuse, mknod and mount widen the attack surface and need root@pam. */
export const ALLOWED_LXC_FEATURES = ["nesting", "keyctl"] as const;

const proxmox = z.strictObject({
  endpoint: proxmoxEndpoint,
  insecure: bool.default(false),
  minTls: oneOf(["1.2", "1.3"]).default("1.3"),
  ssh: z
    .strictObject({
      username: pattern(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix user name such as "root"').default("root"),
      agent: bool.default(false),
    })
    .prefault({}),
});

const download = z.strictObject({
  url: httpsUrl,
  fileName,
  checksum: sha256.optional(),
});

const containerSpec = z.strictObject({
  vmId,
  cores: wholeNumber(1, 64, "CPU cores").default(2),
  memoryMiB: wholeNumber(256, 262_144, "MiB").default(2048),
  swapMiB: wholeNumber(0, 65_536, "MiB").default(512),
  diskGiB: wholeNumber(4, 4096, "GiB").default(16),
  address: interfaceAddress,
  /** A data volume mounted at `path`, backed up with the guest. */
  data: z
    .strictObject({
      path: pattern(
        /^\/(?!$)(?!(etc|proc|sys|dev|run|boot|bin|sbin|lib|usr)(\/|$))[A-Za-z0-9._/-]+$/,
        'an absolute path inside the container such as "/var/lib/postgresql" (not a system directory)',
      ),
      sizeGiB: wholeNumber(1, 65_536, "GiB"),
    })
    .optional(),
  features: z.array(oneOf(ALLOWED_LXC_FEATURES)).default(["nesting"]),
  /** Expressible, but the policy pack's lxc-unprivileged rule rejects it unless an operator lowers that rule. */
  privileged: bool.default(false),
  /** Debugging only: the policy pack's nic-firewall-on rule rejects false. */
  nicFirewall: bool.default(true),
});
export type ContainerSpec = z.infer<typeof containerSpec>;

const zfsMirror = z.strictObject({
  pool: zfsPoolName,
  devices: z.array(stableDiskPath).min(2, { error: () => "expected at least two disks for a mirror" }),
  /** Create the pool on these disks. Off by default: an existing pool is adopted, never touched. */
  create: bool.default(false),
  ashift: wholeNumber(9, 16).default(12),
  compression: oneOf(["lz4", "zstd", "on", "off"]).default("lz4"),
});

const catalogId = pattern(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'a catalog id such as "rtx-5090"');
/** Ollama model names: "qwen2.5:14b", "library/mistral:7b", "second-brain:latest". */
export const modelName = pattern(
  /^([a-z0-9][a-z0-9.-]*(:\d{1,5})?\/)?[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?(:[A-Za-z0-9][A-Za-z0-9._-]*)?$/,
  'an Ollama model name such as "qwen2.5:14b" (a registry may prefix it: "mirror.lan:5000/library/qwen2.5:14b")',
);

/** User additions to the GPU and model catalog (lib/capacity/catalog.ts); theirs win over the built-in entries. */
const catalogExtension = z
  .strictObject({
    gpus: z
      .record(
        catalogId,
        z.strictObject({
          name: text("a GPU name"),
          vramMiB: wholeNumber(1024, 1_048_576, "MiB"),
          bandwidthGBs: wholeNumber(1, 100_000, "GB/s"),
          source: text().default("user config"),
        }),
      )
      .default({}),
    models: z
      .record(
        modelName,
        z.strictObject({
          weightsBytes: wholeNumber(1_000_000, 2_000_000_000_000, "bytes"),
          quantization: text('a quantisation such as "Q4_K_M"'),
          layers: wholeNumber(1, 1024),
          kvHeads: wholeNumber(1, 1024),
          headDim: wholeNumber(8, 1024),
          nativeContext: wholeNumber(512, 10_485_760),
          source: text().default("user config"),
        }),
      )
      .default({}),
  })
  .prefault({});
export type CatalogExtension = z.infer<typeof catalogExtension>;

/** The catalog a stack works with: the built-in one with the stack's own additions laid over it. */
export function catalogOf(extension: CatalogExtension | undefined): Catalog {
  const gpus = Object.fromEntries(
    Object.entries(extension?.gpus ?? {}).map(([id, g]) => [
      id,
      {
        name: g.name,
        vramBytes: g.vramMiB * 1024 ** 2,
        bandwidthBytesPerSecond: g.bandwidthGBs * 1e9,
        source: g.source,
      },
    ]),
  );
  return mergeCatalog({ gpus, models: extension?.models ?? {} });
}

const gpu = z.strictObject({
  /** The cluster-wide PCI mapping name (`hardware.mapping.Pci`), e.g. "rtx5090". */
  mapping: label,
  environment: oneOf(ENVIRONMENTS),
  model: text('a GPU model name such as "NVIDIA GeForce RTX 5090"'),
  /** The capacity planner's catalog entry for this card (lib/capacity/catalog.ts or ai-dualstack:catalog). */
  catalog: catalogId,
  /** vendor:device of the GPU function, as `lspci -nn` shows it. */
  deviceId: pciId,
  /** vendor:device of the card's other functions (HDMI audio, USB-C) bound to vfio-pci too. */
  companionIds: z.array(pciId).default([]),
  path: pciPath,
  iommuGroup: wholeNumber(0, 4096, "the IOMMU group number"),
  subsystemId: pciId,
});
export type GpuConfig = z.infer<typeof gpu>;

const node = z.strictObject({
  name: label,
  /** Address the host stack reaches over SSH for host preparation (management network). */
  address: ipv4,
  cpuVendor: oneOf(["intel", "amd"]).default("intel"),
  bootloader: oneOf(["auto", "grub", "systemd-boot"]).default("auto"),
  /** The node's RAM and what the host keeps of it; the rest is the guests' (lib/capacity/host-memory.ts). */
  memory: z.strictObject({
    /** Installed RAM (`free -g` shows a little less: firmware and the kernel's own reservations). */
    totalGiB: wholeNumber(4, 16_384, "GiB of RAM installed"),
    /** Proxmox VE's services, the kernel, QEMU's per-guest overhead. */
    systemGiB: wholeNumber(1, 1024, "GiB").default(4),
    /** The ZFS ARC's maximum, which the host stack sets; default PVE 8.1's rule: 10% of RAM, at most 16 GiB. */
    zfsArcMaxGiB: wholeNumber(1, 16_384, "GiB").optional(),
  }),
  mirrors: z.record(label, zfsMirror),
  gpus: z.array(gpu).default([]),
});
export type NodeConfig = z.infer<typeof node>;

const zone = z.strictObject({
  bridge: bridgeName,
  vlanId,
  cidr,
  gateway: ipv4,
  mtu: wholeNumber(576, 9000).default(1500),
});
export type ZoneConfig = z.infer<typeof zone>;

const mgmtZone = z.strictObject({
  bridge: bridgeName,
  cidr,
  gateway: ipv4,
  /** Who may reach SSH (22) and the web UI/API (8006): the `management` IP set. */
  adminCidrs: z.array(cidr).min(1, { error: () => "expected at least one admin network" }),
});

const networks = z.strictObject({
  /** The physical NIC (or bond) that trunks the guest VLANs; guest bridges hang off VLAN sub-interfaces of it. */
  uplink: interfaceName,
  mgmt: mgmtZone,
  /** Platform services (Vault, Gitea, monitoring, backup): a zone of their own, never the management network. */
  services: zone,
  private: zone,
  public: zone,
});
export type NetworksConfig = z.infer<typeof networks>;

const environmentAccess = z.strictObject({
  pool: label,
  /** The host memory the environment's guests may take: its GPU VM in full plus its containers' limits. */
  memoryGiB: wholeNumber(1, 16_384, "GiB"),
  /** Which mirror (a key of the node's `mirrors`) holds this environment's guests and files. */
  mirror: label,
  tokenExpires: isoDate,
  /**
   * Images are downloaded by the host stack: Proxmox's download-url needs Sys.Modify on / (root-only), which no
   * environment token may hold. Each environment's images land in its own files datastore.
   */
  cloudImage: download,
  lxcTemplate: download,
});

const platformContainers = z.strictObject({
  security: containerSpec,
  cicd: containerSpec,
  monitoring: containerSpec,
  backup: containerSpec,
  /** The package cache (apt-cacher-ng): the environments' guests fetch their distribution's packages through it. */
  packages: containerSpec,
});

const retention = (d: { daily: number; weekly: number; monthly: number }) =>
  z
    .strictObject({
      daily: wholeNumber(0, 1000, "daily snapshots kept").default(d.daily),
      weekly: wholeNumber(0, 1000, "weekly snapshots kept").default(d.weekly),
      monthly: wholeNumber(0, 1000, "monthly snapshots kept").default(d.monthly),
    })
    .prefault({})
    .refine((r) => r.daily + r.weekly + r.monthly > 0, { error: () => "expected at least one daily, weekly or monthly backup kept" });

export const BACKUP_DEFAULTS = {
  schedule: "*-*-* 01:30",
  retention: { daily: 7, weekly: 4, monthly: 6 },
  restic: { backup: "*-*-* 02:30", check: "*-*-* 05:00", forget: "Sun *-*-* 04:00", checkParts: 7 },
  drill: { pool: "ai-drill", firstVmId: 9900, lastVmId: 9999 },
} as const;

/** Image-level backups (vzdump to a Proxmox Backup Server) and file-level ones (restic in the backup LXC). */
const backupConfig = z.strictObject({
  pbs: z.strictObject({
    /** The Proxmox storage id the datastore is attached as. */
    storageId: label.default("pbs"),
    server: z.union([ipv4, label], expecting("the Proxmox Backup Server's address or host name")),
    datastore: pattern(/^[A-Za-z0-9_][A-Za-z0-9._-]{1,31}$/, 'a PBS datastore name such as "tank-backup"'),
    /** A namespace per platform keeps this box's backups apart on a shared PBS. */
    namespace: pattern(/^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*){0,7}$/, 'a PBS namespace such as "ai-dualstack"').optional(),
    /** The PBS user or API token (user@realm!token) with DatastoreBackup on the datastore (or namespace) only. */
    username: pattern(/^[A-Za-z0-9._-]+@(pbs|pam)(![A-Za-z0-9._-]+)?$/, 'a PBS user or token such as "pve1@pbs!backup"'),
    fingerprint: certFingerprint,
  }),
  /** When the vzdump jobs run (one per pool). */
  schedule: calendarEvent.default(BACKUP_DEFAULTS.schedule),
  mode: oneOf(["snapshot", "suspend", "stop"]).default("snapshot"),
  retention: retention(BACKUP_DEFAULTS.retention),
  /** Fleecing on the guests' own datastore: a slow backup target does not slow the guests' writes. */
  fleecing: bool.default(true),
  restic: z
    .strictObject({
      backup: calendarEvent.default(BACKUP_DEFAULTS.restic.backup),
      check: calendarEvent.default(BACKUP_DEFAULTS.restic.check),
      forget: calendarEvent.default(BACKUP_DEFAULTS.restic.forget),
      /** The check reads 1/checkParts of the data each run: all of it every checkParts days. */
      checkParts: wholeNumber(1, 365, "runs per full read").default(BACKUP_DEFAULTS.restic.checkParts),
      retention: retention(BACKUP_DEFAULTS.retention),
    })
    .prefault({}),
  /** `dualstack drill restore`: scratch copies of the guests go to a pool of their own, in a VMID range no guest uses. */
  drill: z
    .strictObject({
      pool: label.default(BACKUP_DEFAULTS.drill.pool),
      firstVmId: wholeNumber(100, 999_999_999, "VMID").default(BACKUP_DEFAULTS.drill.firstVmId),
      lastVmId: wholeNumber(100, 999_999_999, "VMID").default(BACKUP_DEFAULTS.drill.lastVmId),
    })
    .prefault({})
    .refine((d) => d.firstVmId <= d.lastVmId, { error: () => "expected firstVmId at most lastVmId", path: ["lastVmId"] }),
});
export type BackupConfig = z.infer<typeof backupConfig>;

const hostShape = z.strictObject({
  role: z.literal("host", { error: () => 'expected "host"' }),
  proxmox,
  catalog: catalogExtension,
  nodes: z.array(node).min(1, { error: () => "expected at least one node" }),
  networks,
  environments: z.strictObject({ private: environmentAccess, public: environmentAccess }),
  platform: z.strictObject({
    node: label,
    pool: label.default("platform"),
    mirror: label,
    lxcTemplate: download,
    sshKeys: z.array(sshPublicKey).min(1, { error: () => "expected at least one SSH public key" }),
    containers: platformContainers,
    /** Vault in the security container. */
    vault: z
      .strictObject({
        /** The package version from HashiCorp's apt repository. */
        version: pattern(/^\d+\.\d+\.\d+$/, 'a Vault version such as "1.21.4"').default(VAULT_DEFAULTS.version),
        /** The fingerprints HashiCorp's repository key may have (https://www.hashicorp.com/trust/security). */
        aptKeyFingerprints: fingerprints(VAULT_DEFAULTS.aptKeyFingerprints),
      })
      .prefault({}),
    /** Prometheus in the monitoring container. */
    monitoring: z
      .strictObject({
        scrapeInterval: duration.default("30s"),
        retention: retentionPeriod.default("30d"),
        /** How long Loki keeps the logs. */
        logRetention: retentionPeriod.default("31d"),
        /** Package versions from Grafana's apt repository (`apt-cache policy grafana loki alloy` shows them). */
        grafanaVersion: packageVersion.default(MONITORING_DEFAULTS.grafanaVersion),
        lokiVersion: packageVersion.default(MONITORING_DEFAULTS.lokiVersion),
        alloyVersion: packageVersion.default(MONITORING_DEFAULTS.alloyVersion),
        /** The fingerprints Grafana's repository key may have (https://apt.grafana.com). */
        aptKeyFingerprints: fingerprints(MONITORING_DEFAULTS.aptKeyFingerprints),
        /** prometheus-pve-exporter's version on PyPI, installed in a venv on each node. */
        pveExporterVersion: pattern(/^\d+\.\d+\.\d+$/, 'a PyPI version such as "3.10.2"').default(MONITORING_DEFAULTS.pveExporterVersion),
        /** Alertmanager's receivers and routes (lib/config/alerts.ts). */
        alerts: alertsSchema,
      })
      .prefault({}),
  }),
  backup: backupConfig,
  /** The service catalog's platform entries (Gitea with its runner, in the cicd container). */
  services: z.strictObject({ gitea: catalog.gitea.schema.optional() }).prefault({}),
});

const gpuVm = z.strictObject({
  vmId,
  /** The VMID of the never-started holder VM that owns the data disk, so the disk survives a replacement. */
  dataVmId: vmId,
  cores: wholeNumber(1, 256, "vCPUs").default(8),
  memoryGiB: wholeNumber(4, 1024, "GiB"),
  /** Proxmox accepts hugepages only from root@pam; environment stacks deploy with their own token. */
  hugepages: oneOf(["none", "2", "1024"]).default("none"),
  osDiskGiB: wholeNumber(16, 4096, "GiB").default(64),
  dataDiskGiB: wholeNumber(8, 65_536, "GiB"),
  address: interfaceAddress,
  nameservers: z.array(ipv4).min(1, { error: () => "expected at least one DNS server" }),
  searchDomain: pattern(/^[a-z0-9.-]+$/, 'a DNS domain such as "lan"').optional(),
  /** The guest's operating system, whose cloud image the environment downloads (lib/guest-os.ts). */
  os: oneOf(GUEST_OS).default("ubuntu-24.04"),
  /** The NVIDIA driver and container toolkit. false only for a VM without a GPU (the real-guest testbed). */
  nvidia: bool.default(true),
  /**
   * The NVIDIA driver package of that OS; its default is the OS's (Ubuntu: nvidia-driver-570-server-open; RTX 50xx,
   * Blackwell, needs the open kernel modules, 570 or newer).
   */
  nvidiaDriverPackage: pattern(/^[a-z0-9][a-z0-9.+-]+$/, 'a Debian/Ubuntu package name such as "nvidia-driver-570-server-open"').optional(),
  agentTimeout: duration.default("15m"),
  /** How long the first boot may take (packages, the NVIDIA driver's build, the reboot) before `up` fails. */
  firstBootTimeout: duration.default("45m"),
  /** Debugging only: the policy pack's nic-firewall-on rule rejects false. */
  nicFirewall: bool.default(true),
});
export type GpuVmConfig = z.infer<typeof gpuVm>;

/** Ollama server settings, all explicit: its defaults depend on VRAM and silently truncate prompts. */
const ollama = z.strictObject({
  image: imageRef.default(OLLAMA_IMAGE),
  /** OLLAMA_CONTEXT_LENGTH: the context every request gets unless its model bakes another num_ctx. */
  contextLength: wholeNumber(512, 1_048_576, "tokens"),
  numParallel: wholeNumber(1, 64, "OLLAMA_NUM_PARALLEL").default(1),
  maxLoadedModels: wholeNumber(1, 16, "OLLAMA_MAX_LOADED_MODELS").default(1),
  kvCacheType: oneOf(["f16", "q8_0", "q4_0"]).default("f16"),
  flashAttention: bool.default(true),
  keepAlive: pattern(/^(-1|0|\d+(s|m|h))$/, 'a keep-alive such as "-1" (forever), "30m" or "0"').default("-1"),
  gpuOverheadMiB: wholeNumber(0, 65_536, "MiB, OLLAMA_GPU_OVERHEAD").default(512),
  maxQueue: wholeNumber(1, 4096, "OLLAMA_MAX_QUEUE").default(128),
});
export type OllamaConfig = z.infer<typeof ollama>;

function fraction(min: number, max: number) {
  const e = expecting(`a number from ${min} to ${max}`);
  return z.number(e).min(min, e).max(max, e);
}
/** Model parameters that a derived model bakes in (the Modelfile PARAMETER names). */
const modelParameters = z.strictObject({
  temperature: fraction(0, 2).optional(),
  top_p: fraction(0, 1).optional(),
  min_p: fraction(0, 1).optional(),
  top_k: wholeNumber(1, 1000).optional(),
  repeat_penalty: fraction(0, 5).optional(),
  num_predict: wholeNumber(-2, 1_048_576).optional(),
  seed: wholeNumber(0, 2 ** 31 - 1).optional(),
  stop: z.array(text("a stop sequence")).optional(),
});
const modelDeployment = z.strictObject({
  /** The name the model is served under. */
  name: modelName,
  /** Derive from this model (pulled by the server if missing), baking parameters, system prompt and template. */
  from: modelName.optional(),
  /** num_ctx baked into a derived model; defaults to ollama.contextLength. */
  context: wholeNumber(512, 1_048_576, "tokens").optional(),
  parameters: modelParameters.optional(),
  system: z.string(expecting("a system prompt")).optional(),
  template: z.string(expecting("a Go template")).optional(),
  /** Which catalog entry describes the weights (defaults to `from`, else `name`). */
  catalogModel: modelName.optional(),
  /** Load it after deploy and keep it loaded; fails the deployment unless it is fully on the GPU. */
  warm: bool.default(false),
  /**
   * Served by Ollama from the CPU: the explicit choice an environment with services.vllm (which owns the GPU) must make
   * for every model it still deploys to Ollama.
   */
  cpu: bool.default(false),
});
export type ModelDeploymentConfig = z.infer<typeof modelDeployment>;

/** Pinned defaults of the environment services (the schema and the compose renderer both use them). */
export const SERVICE_DEFAULTS = {
  openWebui: { image: "ghcr.io/open-webui/open-webui:v0.8.12", port: 3000 },
  chroma: { image: "chromadb/chroma:1.0.20", port: 8000 },
  qdrant: { image: "qdrant/qdrant:v1.15.4" },
  chatbot: { image: "ghcr.io/open-webui/open-webui:v0.8.12" },
  ingress: { image: "caddy:2.10.2-alpine" },
  gateway: { image: "caddy:2.10.2-alpine" },
  gpuExporter: { image: "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless" },
} as const;
/** The services of each environment's compose stack; images are config with pinned defaults. */
const services = z
  .strictObject({
    // private
    openWebui: z
      .strictObject({ image: imageRef.default(SERVICE_DEFAULTS.openWebui.image), port: hostPort.default(SERVICE_DEFAULTS.openWebui.port) })
      .optional(),
    chroma: z.strictObject({ image: imageRef.default(SERVICE_DEFAULTS.chroma.image), port: hostPort.default(SERVICE_DEFAULTS.chroma.port) }).optional(),
    // public
    qdrant: z.strictObject({ image: imageRef.default(SERVICE_DEFAULTS.qdrant.image) }).optional(),
    chatbot: z.strictObject({ image: imageRef.default(SERVICE_DEFAULTS.chatbot.image) }).optional(),
    ingress: z
      .strictObject({
        image: imageRef.default(SERVICE_DEFAULTS.ingress.image),
        /** The public name the chatbot is served under; catalog services add their own. */
        hostname: dnsName,
        /** "internal": Caddy's own CA (tests, private DNS); "acme": certificates from Let's Encrypt (TLS-ALPN on 443). */
        tls: oneOf(["internal", "acme"]).default("internal"),
        /** The account e-mail the ACME CA writes to about expiring certificates (required with acme). */
        acmeEmail: z.email({ error: () => 'expected an e-mail address such as "ops@example.org"' }).optional(),
        /** Another ACME directory (Let's Encrypt's staging one while testing). */
        acmeCa: httpsUrl.optional(),
        /** Put the chatbot behind the OAuth2 proxy as well (it has its own sign-in otherwise). */
        auth: bool.default(false),
      })
      .optional(),
    // both: the TLS gateway in front of every port the VM publishes to the operators (certificates from the env CA)
    gateway: z.strictObject({ image: imageRef.default(SERVICE_DEFAULTS.gateway.image) }).optional(),
    // both: NVIDIA's DCGM exporter (GPU temperature, power, VRAM), scraped by the monitoring container
    gpuExporter: z.strictObject({ image: imageRef.default(SERVICE_DEFAULTS.gpuExporter.image) }).optional(),
    // The service catalog (lib/catalog): each enabled by its key, placed and wired by the catalog.
    vllm: catalog.vllm.schema.optional(),
    langflow: catalog.langflow.schema.optional(),
    apps: catalog.apps.schema.optional(),
    streamlit: catalog.streamlit.schema.optional(),
    oauth2Proxy: catalog.oauth2Proxy.schema.optional(),
    rag: catalog.rag.schema.optional(),
    unstructured: catalog.unstructured.schema.optional(),
    workers: catalog.workers.schema.optional(),
    jupyter: catalog.jupyter.schema.optional(),
    langfuse: catalog.langfuse.schema.optional(),
    prefect: catalog.prefect.schema.optional(),
    keycloak: catalog.keycloak.schema.optional(),
    agent: catalog.agent.schema.optional(),
    neo4j: catalog.neo4j.schema.optional(),
    zep: catalog.zep.schema.optional(),
    minio: catalog.minio.schema.optional(),
    rclone: catalog.rclone.schema.optional(),
    // host only: its presence here is a placement error the catalog names
    gitea: catalog.gitea.schema.optional(),
  })
  .prefault({});
export type ServicesConfig = z.infer<typeof services>;
export const SERVICES_BY_ROLE = { private: ["openWebui", "chroma"], public: ["qdrant", "chatbot", "ingress"] } as const;

/** A tenant of the public platform: its own database, cache key space, vector collection and secrets. */
const tenant = z.strictObject({
  name: z.string(expecting("a tenant name")),
  /** Enforced by PostgreSQL (CONNECTION LIMIT). */
  maxDbConnections: wholeNumber(1, 1000, "connections").default(20),
  /** Which deployed models the tenant may use (the chatbot's allowlist); all of them when absent. */
  models: z.array(modelName).optional(),
  /** What removing the tenant does with its data: "retain" refuses while data exists; "delete" drops it. */
  onDelete: oneOf(["retain", "delete"]).default("retain"),
  /** The tenant's Qdrant collection: the dimension of the embedding model it stores, and the distance. */
  vectors: z
    .strictObject({
      size: wholeNumber(1, 65536, "dimensions").default(768),
      distance: oneOf(["Cosine", "Dot", "Euclid", "Manhattan"]).default("Cosine"),
    })
    .default({ size: 768, distance: "Cosine" }),
});
export type TenantConfig = z.infer<typeof tenant>;

const environmentShape = z.strictObject({
  role: oneOf(ENVIRONMENTS),
  proxmox,
  /** The host stack, as `pulumi stack` names it: "organization/ai-dualstack/host" on a local backend. */
  hostStack: pattern(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, 'a stack name such as "organization/ai-dualstack/host"').default(
    "organization/ai-dualstack/host",
  ),
  node: label,
  sshKeys: z.array(sshPublicKey).min(1, { error: () => "expected at least one SSH public key" }),
  gpuVm,
  containers: z.strictObject({ postgres: containerSpec, redis: containerSpec }),
  catalog: catalogExtension,
  ollama,
  services,
  models: z.array(modelDeployment).min(1, { error: () => "expected at least one model deployment" }),
  tenants: z.array(tenant).default([]),
});

type Ctx = z.RefinementCtx;
const issue = (ctx: Ctx, path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });

function checkUnique<T>(ctx: Ctx, items: T[], key: (t: T) => string | number, path: (i: number) => (string | number)[], what: string) {
  const seen = new Map<string | number, number>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) issue(ctx, path(i), `${what} ${JSON.stringify(k)} is already used at index ${seen.get(k)}`);
    else seen.set(k, i);
  });
}

function checkAddressInZone(ctx: Ctx, address: string, zoneCidr: string, path: (string | number)[], zoneName: string) {
  const parsed = parseInterfaceAddress(address);
  const zoneNet = parseCidr(zoneCidr);
  if (!parsed || !zoneNet) return; // the field itself already failed
  if (parsed.subnet.prefix !== zoneNet.prefix || !isHostAddress(zoneNet, parsed.ip)) {
    issue(ctx, path, `expected a host address inside the ${zoneName} zone ${zoneCidr} with the same prefix, got "${address}"`);
  }
}

function checkGuestIds(ctx: Ctx, entries: [string, number][]) {
  const seen = new Map<number, string>();
  for (const [where, id] of entries) {
    const other = seen.get(id);
    if (other) issue(ctx, where.split("."), `VMID ${id} is already used by ${other}`);
    else seen.set(id, where);
  }
}

export const hostConfigSchema = hostShape.superRefine((c, ctx) => {
  checkUnique(
    ctx,
    c.nodes,
    (n) => n.name,
    (i) => ["nodes", i, "name"],
    "node name",
  );
  const allGpus = c.nodes.flatMap((n, ni) => n.gpus.map((g, gi) => ({ g, path: ["nodes", ni, "gpus", gi] as (string | number)[] })));
  checkUnique(
    ctx,
    allGpus,
    (x) => x.g.mapping,
    (i) => [...allGpus[i].path, "mapping"],
    "GPU mapping",
  );
  c.nodes.forEach((n, ni) =>
    checkUnique(
      ctx,
      n.gpus,
      (g) => g.path,
      (i) => ["nodes", ni, "gpus", i, "path"],
      "PCI path",
    ),
  );
  const hostCatalog = catalogOf(c.catalog);
  for (const { g, path } of allGpus) {
    if (!hostCatalog.gpus[g.catalog])
      issue(
        ctx,
        [...path, "catalog"],
        `expected a catalog GPU (${Object.keys(hostCatalog.gpus).sort().join(", ")}, or one added under catalog.gpus), got "${g.catalog}"`,
      );
  }
  for (const env of ENVIRONMENTS) {
    if (!allGpus.some((x) => x.g.environment === env)) {
      issue(ctx, ["nodes"], `expected a GPU with environment "${env}": each environment gets its own, permanently assigned GPU`);
    }
  }

  // Networks: distinct bridges and VLANs, disjoint subnets, gateways inside their zone.
  const zones = [
    ["mgmt", c.networks.mgmt],
    ["services", c.networks.services],
    ["private", c.networks.private],
    ["public", c.networks.public],
  ] as const;
  checkUnique(
    ctx,
    [...zones],
    ([, z]) => z.bridge,
    (i) => ["networks", zones[i][0], "bridge"],
    "bridge",
  );
  const vlanZones = zones.filter(([n]) => n !== "mgmt") as [string, ZoneConfig][];
  checkUnique(
    ctx,
    vlanZones,
    ([, z]) => z.vlanId,
    (i) => ["networks", vlanZones[i][0], "vlanId"],
    "VLAN id",
  );
  zones.forEach(([name, z], i) => {
    const net = parseCidr(z.cidr);
    const gw = parseIpv4(z.gateway);
    if (net && gw !== undefined && !isHostAddress(net, gw)) {
      issue(ctx, ["networks", name, "gateway"], `expected a host address inside ${z.cidr}, got "${z.gateway}"`);
    }
    zones.slice(i + 1).forEach(([otherName, other]) => {
      const a = parseCidr(z.cidr);
      const b = parseCidr(other.cidr);
      if (a && b && cidrsOverlap(a, b)) issue(ctx, ["networks", otherName, "cidr"], `${other.cidr} overlaps the ${name} zone ${z.cidr}`);
    });
  });

  // Environments and platform: pools distinct, mirrors and nodes exist.
  const pools: [string, string][] = [
    ["environments.private.pool", c.environments.private.pool],
    ["environments.public.pool", c.environments.public.pool],
    ["platform.pool", c.platform.pool],
    ["backup.drill.pool", c.backup.drill.pool],
  ];
  checkUnique(
    ctx,
    pools,
    ([, p]) => p,
    (i) => pools[i][0].split("."),
    "pool",
  );
  const platformNode = c.nodes.find((n) => n.name === c.platform.node);
  if (!platformNode)
    issue(ctx, ["platform", "node"], `expected one of the configured nodes (${c.nodes.map((n) => `"${n.name}"`).join(", ")}), got "${c.platform.node}"`);
  const mirrorNames = new Set(c.nodes.flatMap((n) => Object.keys(n.mirrors)));
  const mirrorRefs: [(string | number)[], string][] = [
    [["environments", "private", "mirror"], c.environments.private.mirror],
    [["environments", "public", "mirror"], c.environments.public.mirror],
    [["platform", "mirror"], c.platform.mirror],
  ];
  for (const [path, m] of mirrorRefs) {
    if (!mirrorNames.has(m)) issue(ctx, path, `expected the name of a configured mirror (${[...mirrorNames].map((x) => `"${x}"`).join(", ")}), got "${m}"`);
  }
  for (const p of boxMemoryProblems(c)) issue(ctx, p.path, p.message);
  for (const p of alertsProblems(c.platform.monitoring.alerts)) issue(ctx, ["platform", "monitoring", "alerts", ...p.path], p.message);
  for (const [name, spec] of Object.entries(c.platform.containers)) {
    checkAddressInZone(ctx, spec.address, c.networks.services.cidr, ["platform", "containers", name, "address"], "services");
  }
  checkGuestIds(
    ctx,
    Object.entries(c.platform.containers).map(([n, s]) => [`platform.containers.${n}.vmId`, s.vmId]),
  );
  const { drill } = c.backup;
  for (const [n, spec] of Object.entries(c.platform.containers)) {
    if (spec.vmId >= drill.firstVmId && spec.vmId <= drill.lastVmId)
      issue(
        ctx,
        ["backup", "drill", "firstVmId"],
        `expected a VMID range no guest uses (platform.containers.${n}.vmId ${spec.vmId} is in ${drill.firstVmId}-${drill.lastVmId})`,
      );
  }
  for (const [path, message] of catalogProblems("host", enabledEntries(c.services), new Set())) issue(ctx, ["services", ...path], message);
  if (c.services.gitea && !(["nesting", "keyctl"] as const).every((f) => c.platform.containers.cicd.features.includes(f))) {
    issue(ctx, ["platform", "containers", "cicd", "features"], "expected [nesting, keyctl]: Gitea and its runner run in Docker inside the cicd container");
  }
  if (!c.platform.containers.security.data) {
    issue(
      ctx,
      ["platform", "containers", "security", "data"],
      "expected a data volume such as { path: /var/lib/vault, sizeGiB: 20 }: Vault's raft storage and second audit log live there",
    );
  }
});

export function catalogModelOf(m: ModelDeploymentConfig): string {
  return m.catalogModel ?? m.from ?? m.name;
}

/** The catalog's placement and dependency rules, and what its entries share with the core services. */
function checkCatalog(c: z.infer<typeof environmentShape>, ctx: Ctx, models: Catalog) {
  const enabled = enabledEntries(c.services);
  // A VM without the NVIDIA stack (gpuVm.nvidia false) provides no GPU to the entries that ask for one.
  const provides = new Set(ENVIRONMENT_NEEDS.filter((need) => need !== "gpu" || c.gpuVm.nvidia));
  for (const [path, message] of catalogProblems(c.role, enabled, provides)) issue(ctx, ["services", ...path], message);
  const v = c.services.vllm;
  if (v) {
    const facts = vllmFactsOf(v);
    if (facts && !models.models[facts.architecture])
      issue(
        ctx,
        ["services", "vllm", "architecture"],
        `expected a model catalog entry with ${v.model}'s architecture (${Object.keys(models.models).sort().join(", ")}), got "${facts.architecture}"`,
      );
    // One runtime owns a GPU: with vLLM on it, Ollama runs on the CPU and cannot hold a model warm on the GPU, and
    // every model still deployed to Ollama says that it is served from the CPU.
    c.models.forEach((m, i) => {
      if (m.warm)
        issue(
          ctx,
          ["models", i, "warm"],
          "vLLM owns the GPU (services.vllm): Ollama runs on the CPU, so no model can be kept warm on the GPU; set warm: false or remove services.vllm",
        );
      else if (!m.cpu)
        issue(
          ctx,
          ["models", i, "cpu"],
          `vLLM owns the GPU (services.vllm): Ollama would serve ${m.name} from the CPU; say so with cpu: true, or remove the model (the UIs and apps use vLLM's ${servedNameOf(v)})`,
        );
    });
  } else {
    c.models.forEach((m, i) => {
      if (m.cpu) issue(ctx, ["models", i, "cpu"], "cpu: true is for an environment whose GPU vLLM owns (services.vllm); without it Ollama serves from the GPU");
    });
  }
  const ingress = c.services.ingress;
  if (ingress?.tls === "acme" && !ingress.acmeEmail)
    issue(ctx, ["services", "ingress", "acmeEmail"], "expected the ACME account's e-mail address with tls: acme");
  if (ingress?.acmeCa && ingress.tls !== "acme") issue(ctx, ["services", "ingress", "acmeCa"], "acmeCa is used with tls: acme only");
  if (ingress?.auth && !c.services.oauth2Proxy)
    issue(ctx, ["services", "ingress", "auth"], "needs services.oauth2Proxy (the OAuth2 proxy at the ingress); enable it with `oauth2Proxy: {}`");
  const names = [...(ingress ? [ingress.hostname] : []), ...catalogHostnames(enabled)];
  checkUnique(
    ctx,
    names,
    (n) => n,
    () => ["services"],
    "public host name",
  );
}

export const environmentConfigSchema = environmentShape.superRefine((c, ctx) => {
  for (const [role, keys] of Object.entries(SERVICES_BY_ROLE)) {
    if (role === c.role) continue;
    for (const key of keys) {
      if (c.services[key as keyof ServicesConfig] !== undefined) issue(ctx, ["services", key], `${key} belongs to the ${role} environment, not to ${c.role}`);
    }
  }
  if (c.role === "public" && !c.services.ingress)
    issue(ctx, ["services", "ingress"], "expected the public ingress with its hostname (services.ingress.hostname): it is the only published port");
  if (c.role !== "public" && c.tenants.length > 0) issue(ctx, ["tenants"], "tenants belong to the public environment's multi-tenant platform");
  c.tenants.forEach((t, i) => {
    const problem = tenantNameProblem(t.name);
    if (problem) issue(ctx, ["tenants", i, "name"], `${problem}, got ${JSON.stringify(t.name)}`);
    for (const [j, m] of (t.models ?? []).entries()) {
      if (!c.models.some((d) => d.name === m))
        issue(ctx, ["tenants", i, "models", j], `expected one of the deployed models (${c.models.map((d) => d.name).join(", ")}), got "${m}"`);
    }
  });
  checkUnique(
    ctx,
    c.tenants,
    (t) => t.name,
    (i) => ["tenants", i, "name"],
    "tenant name",
  );
  const catalog = catalogOf(c.catalog);
  checkUnique(
    ctx,
    c.models,
    (m) => m.name,
    (i) => ["models", i, "name"],
    "model name",
  );
  c.models.forEach((m, i) => {
    const key = catalogModelOf(m);
    const facts = catalog.models[key] ?? catalog.models[`${key}:latest`];
    const field = m.catalogModel ? "catalogModel" : m.from ? "from" : "name";
    if (!facts) {
      issue(
        ctx,
        ["models", i, field],
        `expected a catalog model (${Object.keys(catalog.models).sort().join(", ")}, or one added under catalog.models, or set catalogModel), got "${key}"`,
      );
      return;
    }
    const context = m.context ?? c.ollama.contextLength;
    if (context > facts.nativeContext) {
      issue(ctx, ["models", i, m.context ? "context" : "name"], `context ${context} exceeds ${key}'s native context of ${facts.nativeContext} tokens`);
    }
    if (!m.from && (m.parameters || m.system || m.template || m.context)) {
      issue(ctx, ["models", i], "parameters, system, template and context are baked into a derived model: set `from` as well");
    }
  });
  const cycle = derivationCycle(c.models);
  if (cycle) {
    const i = c.models.findIndex((m) => m.name === cycle[0]);
    issue(ctx, ["models", i, "from"], `expected a model pulled by tag at the root of every derivation, got the cycle ${cycle.join(" → ")}`);
  }
  checkCatalog(c, ctx, catalog);
  if (c.gpuVm.nvidia) {
    try {
      driverPackageFor(c.gpuVm.os, c.gpuVm.nvidiaDriverPackage);
    } catch (e) {
      issue(ctx, ["gpuVm", "nvidiaDriverPackage"], (e as Error).message);
    }
  }
  if (c.gpuVm.hugepages !== "none") {
    issue(
      ctx,
      ["gpuVm", "hugepages"],
      `expected "none": Proxmox accepts hugepages only from root@pam, and environment stacks deploy with their own least-privilege API token`,
    );
  }
  checkGuestIds(ctx, [
    ["gpuVm.vmId", c.gpuVm.vmId],
    ["gpuVm.dataVmId", c.gpuVm.dataVmId],
    ["containers.postgres.vmId", c.containers.postgres.vmId],
    ["containers.redis.vmId", c.containers.redis.vmId],
  ]);
});

export type HostConfig = z.infer<typeof hostConfigSchema>;
export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;

/** Config keys that must be Pulumi secrets, per role, and whether they are required. */
export function secretKeysFor(
  role: Role,
  parsed: {
    proxmox?: { ssh?: { agent?: boolean } };
    services?: Partial<Pick<ServicesConfig, "rclone" | "oauth2Proxy">>;
    platform?: { monitoring?: { alerts?: Partial<AlertsConfig> } };
  },
): { key: string; required: boolean; form: string }[] {
  const form = "an OpenSSH private key (pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519)";
  if (role === "host") {
    return [
      { key: "proxmoxApiToken", required: true, form: 'a Proxmox API token "user@realm!name=uuid" (pulumi config set --secret proxmoxApiToken …)' },
      // Host preparation runs over SSH with this key even when the provider itself uses an agent.
      { key: "sshPrivateKey", required: true, form },
      // Vault's administrator token: absent until the initialisation ceremony (README, Vault); then the Vault setup runs.
      { key: "vaultToken", required: false, form: "Vault's administrator token (pulumi config set --secret vaultToken …)" },
      // The PBS user's password or token secret; the client-side encryption key when you bring your own (else
      // Proxmox generates one, exported as the secret output pbsEncryptionKey: keep it off the box).
      { key: "pbsPassword", required: true, form: "the PBS user's password or API token secret (pulumi config set --secret pbsPassword …)" },
      { key: "pbsEncryptionKey", required: false, form: "a PBS client encryption key (JSON, as proxmox-backup-client key create writes it)" },
      // Where alerts go: the SMTP password, and the webhook's and heartbeat's URLs, which carry their tokens.
      ...alertSecretKeys(parsed.platform?.monitoring?.alerts),
    ];
  }
  return [
    // Its own token, copied from the host stack's `tokens` output: a StackReference would copy every output of the
    // host, the other environment's token included, into this stack's state.
    {
      key: "proxmoxApiToken",
      required: true,
      form: "this environment's API token from the host stack (pulumi stack output --stack host --show-secrets tokens)",
    },
    // Environment stacks use SSH only for snippet upload, which the provider can do through an agent.
    { key: "sshPrivateKey", required: parsed.proxmox?.ssh?.agent !== true, form },
    // The environment's AppRole in Vault (host stack output vaultAppRoles): every generated credential is written there.
    { key: "vaultRoleId", required: true, form: "this environment's Vault AppRole role_id (pulumi stack output --stack host --show-secrets vaultAppRoles)" },
    {
      key: "vaultSecretId",
      required: true,
      form: "this environment's Vault AppRole secret_id (pulumi stack output --stack host --show-secrets vaultAppRoles)",
    },
    // The environment's restic repository (host stack output resticCredentials): without them no file-level backups.
    { key: "resticPassword", required: false, form: "this environment's restic password (pulumi stack output --stack host --show-secrets resticCredentials)" },
    {
      key: "resticPrivateKey",
      required: false,
      form: "this environment's restic client key (pulumi stack output --stack host --show-secrets resticCredentials)",
    },
    // The service catalog's: remotes of Rclone's jobs beyond MinIO, and another OIDC provider's client secret.
    {
      key: "rcloneConfig",
      required: rcloneNeedsConfig(parsed.services?.rclone),
      form: "an rclone.conf with the remotes services.rclone's jobs name (pulumi config set --secret rcloneConfig < rclone.conf)",
    },
    {
      key: "oauth2ClientSecret",
      required: parsed.services?.oauth2Proxy?.issuerUrl !== undefined,
      form: "the OIDC client secret of services.oauth2Proxy.issuerUrl's client (pulumi config set --secret oauth2ClientSecret …)",
    },
  ];
}
