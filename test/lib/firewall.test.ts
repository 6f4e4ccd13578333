import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load";
import { ADMIN_PORTS, CLUSTER_FIREWALL, MANAGEMENT_IPSET, clusterRules, GUEST_FIREWALL_OPTIONS, guestRules, securityGroups } from "../../lib/firewall";
import { committedConfig } from "../helpers/config";

const loaded = loadConfig(committedConfig("host"));
if (loaded.role !== "host") throw new Error("host config expected");
const networks = loaded.config.networks;
const monitoringIp = loaded.config.platform.containers.monitoring.address.split("/")[0];
const packageCacheIp = loaded.config.platform.containers.packages.address.split("/")[0];

describe("firewall rules", () => {
  it("the cluster firewall is on with inbound DROP", () => {
    expect(CLUSTER_FIREWALL).toMatchObject({ enabled: true, inputPolicy: "DROP" });
  });

  it("admin ports open only to the management IP set, on the host and in every zone", () => {
    const all = [...clusterRules(monitoringIp), ...Object.values(securityGroups(networks, monitoringIp, packageCacheIp)).flat()];
    const admin = all.filter((r) => r.type === "in" && r.action === "ACCEPT" && r.dport && (ADMIN_PORTS as readonly string[]).includes(r.dport));
    expect(admin.length).toBeGreaterThanOrEqual(ADMIN_PORTS.length);
    for (const r of admin) expect(r.source).toBe(`+${MANAGEMENT_IPSET}`);
    // No rule accepts from anywhere except the public HTTPS ingress.
    const open = all.filter((r) => r.type === "in" && r.action === "ACCEPT" && !r.source);
    expect(open).toEqual([expect.objectContaining({ dport: "443", proto: "tcp" })]);
  });

  it("the private zone accepts nothing from the public zone", () => {
    const priv = securityGroups(networks, monitoringIp, packageCacheIp)["sg-private"];
    expect(priv.some((r) => r.source === networks.public.cidr)).toBe(false);
    expect(priv.filter((r) => r.type === "in" && r.action === "ACCEPT").map((r) => r.source)).toEqual([
      "+management",
      networks.private.cidr,
      "+management",
      monitoringIp,
    ]);
    // The monitoring container reaches the exporters only.
    expect(priv.find((r) => r.source === monitoringIp)).toMatchObject({ proto: "tcp", dport: "9100,9400,9338" });
    // Within the zone, admin ports are dropped before the zone's other traffic is accepted.
    const firstZoneRule = priv.findIndex((r) => r.source === networks.private.cidr);
    expect(priv.slice(firstZoneRule, firstZoneRule + 4).map((r) => `${r.action} ${r.dport ?? "*"}`)).toEqual(["DROP 22", "DROP 8006", "DROP 3128", "ACCEPT *"]);
  });

  it.each([
    ["public", "3103"],
    ["private", "3102"],
  ] as const)(
    "%s guests drop outbound except DNS, NTP, HTTPS, their zone, Vault, the restic repositories, their log gateway port and the package cache",
    (zone, logPort) => {
      expect(GUEST_FIREWALL_OPTIONS).toMatchObject({ enabled: true, inputPolicy: "DROP", outputPolicy: "DROP", macfilter: true, ipfilter: true });
      const out = securityGroups(networks, monitoringIp, packageCacheIp)[`sg-${zone}`].filter((r) => r.type === "out");
      expect(out.map((r) => `${r.proto ?? "any"}/${r.dport ?? "*"}`).sort()).toEqual(
        ["any/*", "tcp/2222", `tcp/${logPort}`, "tcp/3142", "tcp/443", "tcp/53", "tcp/8200", "udp/123", "udp/53"].sort(),
      );
      expect(out.find((r) => r.dport === logPort)?.dest).toBe(monitoringIp);
      expect(out.find((r) => !r.proto)?.dest).toBe(networks[zone].cidr);
      expect(out.find((r) => r.dport === "53")?.dest).toBe(networks[zone].gateway);
      expect(out.find((r) => r.dport === "2222")?.dest).toBe(networks.services.cidr);
      expect(out.find((r) => r.dport === "3142")?.dest).toBe(packageCacheIp);
      // No plain HTTP out: the distribution's mirrors only through the cache.
      expect(out.filter((r) => r.dport?.split(",").includes("80"))).toEqual([]);
    },
  );

  it("the services zone's containers send DNS, HTTP and HTTPS out, and reach the other networks only for the monitoring container's scrapes", () => {
    const out = securityGroups(networks, monitoringIp, packageCacheIp)["sg-services"].filter((r) => r.type === "out");
    expect(out.map((r) => `${r.source ?? "*"} ${r.dest ?? "*"} ${r.proto ?? "any"}/${r.dport ?? "*"}`)).toEqual([
      `* ${networks.services.gateway} udp/53`,
      `* ${networks.services.gateway} tcp/53`,
      "* * tcp/80",
      "* * tcp/443",
      `* ${networks.services.cidr} any/*`,
      `${monitoringIp} ${networks.mgmt.cidr} tcp/9100,9221`,
      `${monitoringIp} ${networks.private.cidr} tcp/9100,9400,9338`,
      `${monitoringIp} ${networks.public.cidr} tcp/9100,9400,9338`,
    ]);
  });

  it("each zone reaches only its own port of the log gateway; the host's exporters only from the monitoring container", () => {
    const svc = securityGroups(networks, monitoringIp, packageCacheIp)["sg-services"];
    const pushes = svc.filter((r) => r.comment.startsWith("log pushes"));
    expect(pushes.map((r) => [r.source, r.dest, r.dport])).toEqual([
      [networks.private.cidr, monitoringIp, "3102"],
      [networks.public.cidr, monitoringIp, "3103"],
    ]);
    expect(
      clusterRules(monitoringIp)
        .filter((r) => r.source === monitoringIp)
        .map((r) => r.dport),
    ).toEqual(["9100,9221"]);
  });

  it("a guest's rules are its zone's security group", () => {
    expect(guestRules("private")).toEqual([{ securityGroup: "sg-private", comment: "rules of the private zone" }]);
  });
});
