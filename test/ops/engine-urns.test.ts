// The offline plan's URNs are the engine's: a nested resource's type chain is its parents' whole chain. The engine
// test checks every URN of a real state against the plan; this pins the rule and the references that follow it.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { describe, expect, it } from "vitest";
import { engineUrn } from "../../ops/engine";
import { one, underMocks } from "../helpers/mocks";

describe("engineUrn", () => {
  it("qualifies a type by the parent's whole chain, leaving the root stack out", () => {
    const root = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s";
    const env = engineUrn("s", "p", root, "a:b:Env", "e");
    expect(env).toBe("urn:pulumi:s::p::a:b:Env::e");
    const guest = engineUrn("s", "p", env, "a:b:Guest", "g");
    expect(guest).toBe("urn:pulumi:s::p::a:b:Env$a:b:Guest::g");
    expect(engineUrn("s", "p", guest, "proxmoxve:index/vmLegacy:VmLegacy", "vm")).toBe(
      "urn:pulumi:s::p::a:b:Env$a:b:Guest$proxmoxve:index/vmLegacy:VmLegacy::vm",
    );
    expect(engineUrn("s", "p", undefined, "pulumi:pulumi:Stack", "p-s")).toBe(root);
  });
});

describe("the recorded registrations", () => {
  it("carry the engine's URNs, in parents and dependencies too", async () => {
    const rs = await underMocks(() => {
      const outer = new pulumi.ComponentResource("t:x:Outer", "outer");
      const inner = new pulumi.ComponentResource("t:x:Inner", "inner", {}, { parent: outer });
      const first = new random.RandomId("first", { byteLength: 8 }, { parent: inner });
      new random.RandomId("second", { byteLength: 8 }, { parent: inner, dependsOn: [first] });
    });
    const inner = one(rs, "t:x:Inner");
    const first = one(rs, "random:index/randomId:RandomId", "first");
    const second = one(rs, "random:index/randomId:RandomId", "second");
    expect(first.urn).toBe("urn:pulumi:test::ai-dualstack::t:x:Outer$t:x:Inner$random:index/randomId:RandomId::first");
    expect(second.parent).toBe(inner.urn);
    expect(inner.urn).toBe("urn:pulumi:test::ai-dualstack::t:x:Outer$t:x:Inner::inner");
    expect(second.options.dependsOn).toEqual([first.urn]);
  });
});
