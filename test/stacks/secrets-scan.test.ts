// No secret in plain text anywhere a plan shows: every stack evaluated with its secret config set as secrets and every
// generated secret (random passwords, private keys) given a known value, then everything `dualstack plan` prints
// (the tree, the counts, --json) and every output is scanned for those values.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateStack, shownOutputs } from "../../ops/engine";
import { planJson, renderCounts, renderTree } from "../../ops/plan-view";
import { dummySecrets, secretNeedles } from "../helpers/config";

const GENERATED = "generated-secret-probe-7f3a9c";

describe("no secret in plain text in any plan", () => {
  it.each(["host", "private", "public"] as const)("%s", async (stack) => {
    const secrets = dummySecrets(stack);
    const plan = await evaluateStack(stack, { secrets, generated: GENERATED });
    const shown = [
      JSON.stringify(planJson(plan)),
      renderTree(plan),
      renderCounts(plan),
      JSON.stringify(shownOutputs(plan)),
      JSON.stringify(plan.resources),
    ].join("\n");
    for (const needle of secretNeedles([...Object.values(secrets), GENERATED])) expect(shown, needle).not.toContain(needle);
    // And no plan line shows a value that is not there.
    expect(
      renderTree(plan)
        .split("\n")
        .filter((l) => /\bundefined\b/.test(l)),
    ).toEqual([]);
    // The probe did reach the program: the generated service secrets are known now, and shown only as "[secret]".
    // Secret outputs are secret: their values reach only the environments' StackReferences.
    for (const [k, o] of Object.entries(plan.outputs)) if (JSON.stringify(o.value ?? "").includes(GENERATED)) expect(o.secret, k).toBe(true);
    const withGenerated = plan.resources.filter((r) => r.type === "docker:index/container:Container" && r.inputs.envs === "[secret]").map((r) => r.name);
    expect(withGenerated.sort()).toEqual(
      { host: [], private: ["private-services-open-webui"], public: ["public-services-chatbot", "public-services-qdrant"] }[stack],
    );
  });
});

describe("no secret in plain text with every tier of the service catalog", () => {
  it.each(["host", "private", "public"] as const)(
    "%s",
    async (stack) => {
      const secrets = dummySecrets(stack);
      const plan = await evaluateStack(stack, { configFile: join(__dirname, "../../examples/catalog", `Pulumi.${stack}.yaml`), secrets, generated: GENERATED });
      const catalog = JSON.stringify(plan.outputs.catalog?.value ?? {});
      const shown = [
        JSON.stringify(planJson(plan)),
        renderTree(plan),
        renderCounts(plan),
        JSON.stringify(shownOutputs(plan)),
        JSON.stringify(plan.resources),
        catalog,
      ].join("\n");
      for (const needle of secretNeedles([...Object.values(secrets), GENERATED])) expect(shown, needle).not.toContain(needle);
      expect(
        renderTree(plan)
          .split("\n")
          .filter((l) => /\bundefined\b/.test(l)),
      ).toEqual([]);
      for (const [k, o] of Object.entries(plan.outputs)) if (JSON.stringify(o.value ?? "").includes(GENERATED)) expect(o.secret, k).toBe(true);
    },
    120_000,
  );
});
