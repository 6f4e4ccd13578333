// Every rule of the pack, in one list. Constructing the PolicyPack happens only in index.ts (it starts a server).
import { backupCoverage, statefulGuestsProtected } from "./rules/data-protection";
import { adminPortsManagementOnly, clusterFirewallEnabled, guestFirewallBaseline, publicEgressRestricted } from "./rules/firewall";
import { gpuOfOwnEnvironment, gpuSingleEnvironment, pciThroughMapping } from "./rules/gpu-mappings";
import { cloudInitKeysOnly, guestAgentTimeout, lxcUnprivileged, providerTls } from "./rules/guest-hardening";
import { guestEnvironmentTag } from "./rules/guest-environment-tag";
import { imagesPinned, modelFitsGpu, modelsFitTogether } from "./rules/images-and-models";
import { nicBridgeExplicit, nicFirewallOn, nicInOwnZone, noManagementNetwork } from "./rules/nic-in-own-zone";
import { secretsAreSecret } from "./rules/secrets";
import { bindMountsConfined, noPrivateEndpointInPublic, poolOfOwnEnvironment, storageOfOwnEnvironment } from "./rules/storage-isolation";
import { unknownGuestType } from "./rules/unknown-guest-type";
import type { DocumentedPolicy, Rule } from "./support/policy";
import { loadTopology, type Topology } from "./support/topology";

export const RULES: Rule[] = [
  // isolation
  guestEnvironmentTag, unknownGuestType, nicBridgeExplicit, nicInOwnZone, noManagementNetwork, pciThroughMapping,
  gpuOfOwnEnvironment, gpuSingleEnvironment, storageOfOwnEnvironment, bindMountsConfined, poolOfOwnEnvironment,
  noPrivateEndpointInPublic,
  // network and access
  nicFirewallOn, guestFirewallBaseline, publicEgressRestricted, adminPortsManagementOnly, clusterFirewallEnabled, providerTls,
  // guests
  lxcUnprivileged, cloudInitKeysOnly, guestAgentTimeout,
  // data and secrets
  secretsAreSecret, statefulGuestsProtected, backupCoverage, imagesPinned,
  // capacity
  modelFitsGpu, modelsFitTogether,
];

export function buildPolicies(topology: Topology = loadTopology()): DocumentedPolicy[] {
  return RULES.map((rule) => rule(topology));
}
