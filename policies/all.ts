// Every rule of the pack, one per file under rules/. Constructing the PolicyPack happens only in index.ts (it
// starts a server); everything else imports this list.
import { adminPortsManagementOnly } from "./rules/admin-ports-management-only";
import { backupCoverage } from "./rules/backup-coverage";
import { bindMountsConfined } from "./rules/bind-mounts-confined";
import { cloudInitKeysOnly } from "./rules/cloud-init-keys-only";
import { clusterFirewallEnabled } from "./rules/cluster-firewall-enabled";
import { dataServicesOwnEnvironment } from "./rules/data-services-own-environment";
import { gpuOfOwnEnvironment } from "./rules/gpu-of-own-environment";
import { gpuSingleEnvironment } from "./rules/gpu-single-environment";
import { guestAgentTimeout } from "./rules/guest-agent-timeout";
import { guestEnvironmentTag } from "./rules/guest-environment-tag";
import { guestFirewallBaseline } from "./rules/guest-firewall-baseline";
import { imagesPinned } from "./rules/images-pinned";
import { lxcUnprivileged } from "./rules/lxc-unprivileged";
import { modelFitsGpu } from "./rules/model-fits-gpu";
import { modelsFitTogether } from "./rules/models-fit-together";
import { nicBridgeExplicit } from "./rules/nic-bridge-explicit";
import { nicFirewallOn } from "./rules/nic-firewall-on";
import { nicInOwnZone } from "./rules/nic-in-own-zone";
import { noManagementNetwork } from "./rules/no-management-network";
import { noPrivateEndpointInPublic } from "./rules/no-private-endpoint-in-public";
import { pciThroughMapping } from "./rules/pci-through-mapping";
import { poolOfOwnEnvironment } from "./rules/pool-of-own-environment";
import { providerTls } from "./rules/provider-tls";
import { publicEgressRestricted } from "./rules/public-egress-restricted";
import { secretsAreSecret } from "./rules/secrets-are-secret";
import { statefulGuestsProtected } from "./rules/stateful-guests-protected";
import { storageOfOwnEnvironment } from "./rules/storage-of-own-environment";
import { unknownGuestType } from "./rules/unknown-guest-type";
import { vaultPathsOwnEnvironment } from "./rules/vault-paths-own-environment";
import type { DocumentedPolicy, Rule } from "./support/policy";
import { loadTopology, type Topology } from "./support/topology";

export const RULES: Rule[] = [
  // isolation
  guestEnvironmentTag,
  unknownGuestType,
  nicBridgeExplicit,
  nicInOwnZone,
  noManagementNetwork,
  pciThroughMapping,
  gpuOfOwnEnvironment,
  gpuSingleEnvironment,
  storageOfOwnEnvironment,
  bindMountsConfined,
  poolOfOwnEnvironment,
  noPrivateEndpointInPublic,
  dataServicesOwnEnvironment,
  // network and access
  nicFirewallOn,
  guestFirewallBaseline,
  publicEgressRestricted,
  adminPortsManagementOnly,
  clusterFirewallEnabled,
  providerTls,
  // guests
  lxcUnprivileged,
  cloudInitKeysOnly,
  guestAgentTimeout,
  // data and secrets
  secretsAreSecret,
  vaultPathsOwnEnvironment,
  statefulGuestsProtected,
  backupCoverage,
  imagesPinned,
  // capacity
  modelFitsGpu,
  modelsFitTogether,
];

export function buildPolicies(topology: Topology = loadTopology()): DocumentedPolicy[] {
  return RULES.map((rule) => rule(topology));
}
