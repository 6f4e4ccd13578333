import { describe, expect, it } from "vitest";
import { environmentCatalog, environmentStack } from "../../lib/compose/services";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig, HostConfig } from "../../lib/config/schema";
import type { Egress } from "../../lib/egress";
import { environmentEgress } from "../../lib/environment-egress";
import { platformEgress } from "../../lib/platform-egress";
import { GUEST_FIREWALL_OPTIONS, securityGroups, type FirewallRule } from "../../lib/firewall";
import { cidrContains, ipOf, parseCidr, parseIpv4 } from "../../lib/net";
import { PACKAGE_CACHE_ARCHIVES, PACKAGE_CACHE_PORT } from "../../lib/package-cache";
import { committedConfig, edit } from "../helpers/config";

const host = loadConfig(committedConfig("host")).config as HostConfig;
const cacheIp = ipOf(host.platform.containers.packages.address);
const groups = securityGroups(host.networks, ipOf(host.platform.containers.monitoring.address), cacheIp);
const projectCidrs = [host.networks.mgmt.cidr, host.networks.services.cidr, host.networks.private.cidr, host.networks.public.cidr];

const inside = (ip: string, cidr: string) => cidrContains(parseCidr(cidr)!, parseIpv4(ip)!);
/** Out rules towards the internet: no destination, or one outside every network of the project. */
const internetRules = (rules: FirewallRule[]) =>
  rules.filter((r) => r.type === "out" && r.action === "ACCEPT" && (!r.dest || !projectCidrs.some((c) => inside(r.dest!.split("/")[0], c))));
const ports = (rules: FirewallRule[]) => new Set(rules.flatMap((r) => (r.dport ?? "*").split(",").map((p) => `${r.proto ?? "any"}/${p}`)));
const declaredPorts = (egress: Egress[]) => new Set(egress.filter((e) => !e.viaPackageCache).map((e) => `${e.proto}/${e.port}`));

function environment(env: "private" | "public", raw = committedConfig(env)) {
  const c = loadConfig(raw).config as EnvironmentConfig;
  const spec = environmentStack(c, env, environmentCatalog(c, env));
  return environmentEgress(c, spec, host.platform.monitoring.aptKeyFingerprints).flatMap((g) => g.egress);
}

describe("what the guests contact, and the firewall that lets it", () => {
  it.each(["public", "private"] as const)("the %s zone admits towards the internet exactly the ports its guests' renderers declare", (zone) => {
    const egress = environment(zone);
    expect(GUEST_FIREWALL_OPTIONS.outputPolicy).toBe("DROP");
    expect(ports(internetRules(groups[`sg-${zone}`]))).toEqual(declaredPorts(egress));
    expect(declaredPorts(egress).size).toBeGreaterThan(0);
  });

  it("the public zone's renderers declare Ollama's registry, the image registries and Grafana's repository", () => {
    const egress = environment("public");
    // Among them Ollama's registry, the image registries and Grafana's repository, all on 443.
    const hosts = egress.flatMap((e) => e.hosts);
    for (const h of ["registry.ollama.ai", "registry-1.docker.io", "ghcr.io", "apt.grafana.com"]) expect(hosts).toContain(h);
  });

  it.each(["public", "private"] as const)("the %s zone's distribution packages come only through the package cache, which serves those archives", (zone) => {
    const viaCache = environment(zone).filter((e) => e.viaPackageCache);
    expect(viaCache.length).toBeGreaterThan(0);
    expect(viaCache.map((e) => e.port)).toEqual(viaCache.map(() => 80));
    for (const e of viaCache) for (const h of e.hosts) expect(PACKAGE_CACHE_ARCHIVES).toContain(h);
    expect(groups[`sg-${zone}`]).toContainEqual(
      expect.objectContaining({ type: "out", action: "ACCEPT", dest: cacheIp, proto: "tcp", dport: String(PACKAGE_CACHE_PORT) }),
    );
    expect([...ports(internetRules(groups[`sg-${zone}`]))].filter((p) => p.endsWith("/80"))).toEqual([]);
  });

  it("the services zone admits towards the internet exactly the ports its containers' renderers declare", () => {
    const egress = platformEgress(host).flatMap((g) => g.egress);
    expect(ports(internetRules(groups["sg-services"]))).toEqual(declaredPorts(egress));
    const hosts = egress.flatMap((e) => e.hosts);
    for (const h of ["apt.releases.hashicorp.com", "apt.grafana.com", "deb.debian.org"]) expect(hosts).toContain(h);
    // The package cache fetches what it serves to the environments.
    expect(
      platformEgress(host)
        .find((g) => g.guest === "platform-packages")!
        .egress.flatMap((e) => e.hosts),
    ).toEqual(expect.arrayContaining([...PACKAGE_CACHE_ARCHIVES]));
  });

  it("the cicd container's images are declared when Gitea runs", () => {
    const raw = committedConfig("host");
    const withGitea = loadConfig(edit(raw, "services", [], { ...JSON.parse(raw.values["ai-dualstack:services"] ?? "{}"), gitea: {} })).config as HostConfig;
    const cicd = platformEgress(withGitea).find((g) => g.guest === "platform-cicd")!.egress;
    expect(cicd.filter((e) => e.what.includes("images")).map((e) => `${e.proto}/${e.port}`)).toEqual(expect.arrayContaining(["tcp/443"]));
    expect(declaredPorts(platformEgress(withGitea).flatMap((g) => g.egress))).toEqual(ports(internetRules(groups["sg-services"])));
  });

  it("ACME certificates add their CA, on 443; a CA on another port fails the check", () => {
    const acme = (acmeCa?: string) => {
      const raw = committedConfig("public");
      const services = JSON.parse(raw.values["ai-dualstack:services"]);
      services.ingress = { ...services.ingress, tls: "acme", acmeEmail: "ops@example.org", ...(acmeCa ? { acmeCa } : {}) };
      return environment("public", edit(raw, "services", [], services));
    };
    expect(acme().flatMap((e) => e.hosts)).toContain("acme-v02.api.letsencrypt.org");
    expect(declaredPorts(acme())).toEqual(ports(internetRules(groups["sg-public"])));
    expect(declaredPorts(acme("https://ca.example.org:14000/directory"))).toContain("tcp/14000");
    expect(ports(internetRules(groups["sg-public"]))).not.toContain("tcp/14000");
  });
});

describe("the alert receivers' egress", () => {
  it("the host stack admits from the monitoring container exactly the ports its receivers declare (examples/catalog: SMTP 587, HTTPS)", async () => {
    const { evaluateStack, readStackFile } = await import("../../ops/engine");
    const { ROOT, dummySecrets } = await import("../helpers/config");
    const { join } = await import("node:path");
    const file = join(ROOT, "examples/catalog/Pulumi.host.yaml");
    const example = loadConfig(readStackFile(file), { offline: true }).config as HostConfig;
    const plan = await evaluateStack("host", { configFile: file, secrets: dummySecrets("host") });
    const sg = plan.resources.find((r) => r.type === "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy" && r.inputs.name === "sg-services")!;
    const rules = sg.inputs.rules as FirewallRule[];
    const monitoringIp = ipOf(example.platform.containers.monitoring.address);
    const receivers = rules.filter((r) => r.type === "out" && r.source === monitoringIp && r.comment?.includes("Alertmanager's receivers"));
    expect(receivers.map((r) => r.dport)).toEqual(["443,587"]);
    expect(ports(internetRules(rules))).toEqual(declaredPorts(platformEgress(example).flatMap((g) => g.egress)));
    // The shipped host names no receiver: no such rule.
    expect(groups["sg-services"].filter((r) => r.comment?.includes("Alertmanager's receivers"))).toEqual([]);
  }, 60_000);
});
