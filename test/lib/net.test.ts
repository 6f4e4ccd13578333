import { describe, expect, it } from "vitest";
import { cidrContains, cidrsOverlap, formatIpv4, ipOf, isHostAddress, parseCidr, parseInterfaceAddress, parseIpv4 } from "../../lib/net";

describe("IPv4 helpers", () => {
  it("parses and formats addresses, rejecting malformed ones", () => {
    expect(formatIpv4(parseIpv4("10.20.0.1")!)).toBe("10.20.0.1");
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    for (const bad of ["10.20.0", "10.20.0.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) expect(parseIpv4(bad)).toBeUndefined();
  });

  it("parses networks only without host bits", () => {
    expect(parseCidr("10.20.0.0/24")).toEqual({ network: parseIpv4("10.20.0.0"), prefix: 24 });
    expect(parseCidr("10.20.0.1/24")).toBeUndefined();
    expect(parseCidr("10.20.0.0/33")).toBeUndefined();
    expect(parseCidr("0.0.0.0/0")).toEqual({ network: 0, prefix: 0 });
  });

  it("takes the IP of an interface address", () => {
    expect(ipOf("10.20.0.10/24")).toBe("10.20.0.10");
    expect(ipOf("10.20.0.10")).toBe("10.20.0.10");
  });

  it("parses interface addresses into address and subnet", () => {
    const a = parseInterfaceAddress("10.20.0.10/24")!;
    expect(formatIpv4(a.ip)).toBe("10.20.0.10");
    expect(a.subnet).toEqual(parseCidr("10.20.0.0/24"));
    expect(parseInterfaceAddress("10.20.0.10")).toBeUndefined();
  });

  it("answers containment, overlap and host-address questions", () => {
    const net = parseCidr("10.20.0.0/24")!;
    expect(cidrContains(net, parseIpv4("10.20.0.200")!)).toBe(true);
    expect(cidrContains(net, parseIpv4("10.21.0.1")!)).toBe(false);
    expect(cidrsOverlap(net, parseCidr("10.20.0.128/25")!)).toBe(true);
    expect(cidrsOverlap(net, parseCidr("10.0.0.0/8")!)).toBe(true);
    expect(cidrsOverlap(net, parseCidr("10.30.0.0/24")!)).toBe(false);
    expect(isHostAddress(net, parseIpv4("10.20.0.0")!)).toBe(false);
    expect(isHostAddress(net, parseIpv4("10.20.0.255")!)).toBe(false);
    expect(isHostAddress(net, parseIpv4("10.20.0.1")!)).toBe(true);
  });
});
