// Every generated secret of every shipped and example stack has an answer (lib/generated-secrets.ts): what it guards,
// and whether it is kept in the stack's Vault mount or re-issued. A kept one has its kept secret in the same plan,
// in the stack's own mount, logged into as that stack logs in; a new generated secret without an answer fails here.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateStack, type PlanResult } from "../../ops/engine";
import { GENERATED_SECRETS, answerFor, keptSource, secretNamePrefix } from "../../lib/generated-secrets";
import { dummySecrets } from "../helpers/config";

const GENERATED = ["random:index/randomPassword:RandomPassword", "random:index/randomId:RandomId", "tls:index/privateKey:PrivateKey"];
const KEPT = "pulumi-nodejs:dynamic/vault:KeptSecret";
const MOUNT: Record<string, string> = { host: "kv-platform", private: "kv-private", public: "kv-public" };

const plans: { set: string; stack: string; plan: PlanResult }[] = [];

beforeAll(async () => {
  for (const [set, dir] of [
    ["shipped", undefined],
    ["examples/catalog", join(__dirname, "../../examples/catalog")],
  ] as const) {
    const configFile = (s: string) => (dir ? { configFile: join(dir, `Pulumi.${s}.yaml`) } : {});
    const host = await evaluateStack("host", { ...configFile("host"), secrets: dummySecrets("host") });
    plans.push({ set, stack: "host", plan: host });
    for (const stack of ["private", "public"] as const)
      plans.push({ set, stack, plan: await evaluateStack(stack, { ...configFile(stack), host, secrets: dummySecrets(stack) }) });
  }
}, 300_000);

describe("generated secrets", () => {
  it("each has exactly one answer, and a kept one is kept in its own stack's mount", () => {
    const unanswered: string[] = [];
    for (const { set, stack, plan } of plans) {
      const kept = new Map(plan.resources.filter((r) => r.type === KEPT).map((r) => [r.name, r]));
      for (const r of plan.resources.filter((x) => GENERATED.includes(x.type))) {
        expect(r.name.startsWith(secretNamePrefix(stack)), r.name).toBe(true);
        const answer = answerFor(stack, r.name);
        if (!answer) {
          unanswered.push(`${set} ${stack}: ${r.name} (${r.type})`);
          continue;
        }
        const k = kept.get(`${r.name}-kept`);
        if (answer.answer === "reissued") {
          expect(k, r.name).toBeUndefined();
          continue;
        }
        expect(k, `${set} ${stack}: ${r.name} has no kept secret`).toBeDefined();
        const inputs = k!.inputs as Record<string, unknown>;
        expect(inputs).toMatchObject({ mount: MOUNT[stack], path: `kept/${r.name}`, address: "https://10.10.0.10:8200" });
        expect(["[secret]", "(known after apply)"], r.name).toContain(inputs.candidate);
        // The environments log in with their own AppRole; the host with its administrator token.
        expect(inputs[stack === "host" ? "token" : "appRole"], r.name).toBe("[secret]");
        expect(k!.parent, r.name).toBe(r.parent);
        expect(k!.parent, r.name).toBeDefined();
        expect(k!.options.protect, "a kept secret is not protected: taking its service out must not fail the update").toBe(false);
      }
    }
    expect(unanswered, "add these to lib/generated-secrets.ts with the data they guard").toEqual([]);
  });

  it("every kept entry says how it is rotated; a re-issued one has nothing to rotate", () => {
    for (const g of GENERATED_SECRETS) {
      if (g.answer === "kept") expect(["reapplied", "by-hand", "never"], String(g.name)).toContain(g.rotation);
      else expect(g.rotation, String(g.name)).toBeUndefined();
    }
  });

  it("every entry of the list answers for a secret some stack generates (no stale entries)", () => {
    const names = plans.flatMap(({ stack, plan }) =>
      plan.resources.filter((r) => GENERATED.includes(r.type)).map((r) => r.name.slice(secretNamePrefix(stack).length)),
    );
    for (const g of GENERATED_SECRETS)
      expect(
        names.some((n) => g.name.test(n)),
        String(g.name),
      ).toBe(true);
  });

  it("every kept secret keeps a generated one: none without its candidate's resource", () => {
    for (const { plan } of plans) {
      const generated = new Set(plan.resources.filter((r) => GENERATED.includes(r.type)).map((r) => r.name));
      for (const k of plan.resources.filter((r) => r.type === KEPT)) {
        const source = keptSource(k.name.replace(/-kept$/, ""));
        expect(generated.has(source), k.name).toBe(true);
      }
    }
  });

  it("the host stack before Vault is initialised (no vaultToken) keeps nothing yet: there is no Vault to keep it in", async () => {
    const { vaultToken: _, ...secrets } = dummySecrets("host");
    const host = await evaluateStack("host", { secrets });
    expect(host.resources.filter((r) => r.type === KEPT)).toEqual([]);
    expect(host.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").length).toBeGreaterThan(0);
  });
});
