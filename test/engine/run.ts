// `npm run test:engine`: the program under the real Pulumi engine (CLI and Node.js language host built from the Go
// module proxy by scripts/pulumi-toolchain.sh), with a local backend and the passphrase secrets provider.
//   1. the three stacks initialised from the committed stack files, secrets set as secrets
//   2. the host's outputs imported from the offline engine's result, so that real StackReferences resolve
//   3. `pulumi preview --policy-pack policies` of host, private and public: zero mandatory violations, and as many
//      resources as the offline engine plans
//   4. a violating configuration stopped by the real engine, the policy's name in its output
//   5. per stack: `up` (no policy pack: step 3 judged these programs; stand-in providers; the dynamic providers' servers do not exist here, so their resources are
//      excluded), `refresh`, then `preview --expect-no-changes`: no perpetual diff from the program's side
//   6. no secret value in plain text in any exported state
// Provider plugins: the module proxy refuses every Pulumi provider module (see the issue note), so the engine loads
// stand-ins (test/engine/standin-provider.ts) that speak the provider protocol but check nothing provider-specific.
// Exit 0 when every check passes; the output shows each preview's counts and the policy verdicts.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { evaluateStack, type PlanResult } from "../../ops/engine";
import { dummySecrets, secretNeedles } from "../helpers/config";
import { hostStateFrom } from "./host-state";
import { describePreview, readPreview } from "./preview-output";
import { Workspace } from "./workspace";

const ROOT = resolve(__dirname, "..", "..");
const PROJECT = "ai-dualstack";
const STACKS = ["host", "private", "public"] as const;
type Stack = (typeof STACKS)[number];

class CheckFailed extends Error {}

function check(ok: boolean, what: string, output?: string): void {
  if (ok) return;
  throw new CheckFailed(`FAILED: ${what}${output ? `\n---- pulumi output ----\n${output.trim()}\n----` : ""}`);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function toolchain(): string {
  const out = execFileSync("bash", [join(ROOT, "scripts", "pulumi-toolchain.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").pop()!;
}

/** Resources a preview creates for a plan: every registration (the root stack's among them) but reads (StackReferences). */
function expectedCreates(plan: PlanResult): number {
  return plan.resources.filter((r) => !r.read).length;
}

/** Dynamic-provider resources talk to servers (Ollama, PostgreSQL, Redis, Vault) that only exist on the real box. */
function dynamicExcludes(stack: string): string[] {
  return ["--exclude", `urn:pulumi:${stack}::${PROJECT}::**pulumi-nodejs:dynamic**`, "--exclude-dependents"];
}

function initStack(ws: Workspace, stack: string, secretsOf: Stack): void {
  ws.must(["stack", "init", `organization/${PROJECT}/${stack}`, "--secrets-provider", "passphrase"]);
  for (const [key, value] of Object.entries(dummySecrets(secretsOf))) ws.must(["config", "set", "--stack", stack, "--secret", `${PROJECT}:${key}`], value);
}

async function main(): Promise<void> {
  const started = Date.now();
  const bin = toolchain();
  const ws = new Workspace(ROOT, bin);
  log(`workspace ${ws.dir}; ${ws.must(["version"]).trim()}`);
  try {
    // One at a time: the offline engine's mocks are process-wide.
    const plans = {} as Record<Stack, PlanResult>;
    for (const stack of STACKS) plans[stack] = await evaluateStack(stack);

    for (const stack of STACKS) initStack(ws, stack, stack);
    const host = hostStateFrom(JSON.parse(ws.must(["stack", "export", "--stack", "host"])), plans.host, PROJECT);
    writeFileSync(ws.file("host-state.json"), JSON.stringify(host.deployment));
    ws.must(["stack", "import", "--stack", "host", "--file", "host-state.json"]);
    log(`host state imported from the offline engine (outputs known only after a real apply, left out: ${host.unknown.join(", ") || "none"})`);

    for (const stack of STACKS) {
      const r = ws.pulumi(["preview", "--stack", stack, "--policy-pack", "policies"]);
      const s = readPreview(r.out);
      log(`preview ${stack}: ${describePreview(s)}`);
      check(r.code === 0, `preview ${stack} exited ${r.code}`, r.out);
      check(
        s.verdicts.every((v) => v.level === "advisory"),
        `preview ${stack}: mandatory policy violations`,
        r.out,
      );
      check(!r.out.includes("can't run policy"), `preview ${stack}: a policy could not run during preview`, r.out);
      // The host's root stack exists already (imported).
      const expected = expectedCreates(plans[stack]) - (stack === "host" ? 1 : 0);
      check(s.counts.create === expected, `preview ${stack}: ${s.counts.create} to create, the offline engine plans ${expected}`, r.out);
    }

    // A privileged LXC in the private environment: expressible in config, refused by lxc-unprivileged.
    const doc = parseYaml(readFileSync(ws.file("Pulumi.private.yaml"), "utf8"));
    doc.config[`${PROJECT}:containers`].postgres.privileged = true;
    writeFileSync(ws.file("Pulumi.violation.yaml"), stringifyYaml(doc));
    initStack(ws, "violation", "private");
    const bad = ws.pulumi(["preview", "--stack", "violation", "--policy-pack", "policies"]);
    const badSummary = readPreview(bad.out);
    log(`preview violation (private + privileged postgres LXC): exit ${bad.code}; ${describePreview(badSummary)}`);
    check(bad.code !== 0, "the violating preview was not stopped", bad.out);
    check(
      badSummary.verdicts.some((v) => v.level === "mandatory" && v.policy === "lxc-unprivileged"),
      "the violating preview does not name lxc-unprivileged",
      bad.out,
    );

    // Without the policy pack: it judged these programs above, and it would see the excluded resources without inputs.
    for (const stack of STACKS) {
      const excludes = dynamicExcludes(stack);
      const up = ws.pulumi(["up", "--stack", stack, "--yes", "--skip-preview", ...excludes]);
      check(up.code === 0, `up ${stack} exited ${up.code}`, up.out);
      const refresh = ws.pulumi(["refresh", "--stack", stack, "--yes", "--skip-preview"]);
      check(refresh.code === 0, `refresh ${stack} exited ${refresh.code}`, refresh.out);
      const again = ws.pulumi(["preview", "--stack", stack, "--expect-no-changes", "--diff", ...excludes]);
      log(`up, refresh, preview ${stack}: up ${describePreview(readPreview(up.out))}; then ${describePreview(readPreview(again.out))}`);
      check(again.code === 0, `preview ${stack} after up and refresh proposes changes (a perpetual diff)`, again.out);

      const state = ws.must(["stack", "export", "--stack", stack]);
      // The stand-in random provider's generated password: encrypted wherever it went (the password, the envs).
      check(!state.includes("standin:random:index/randomPassword:RandomPassword:result"), `the ${stack} state holds a generated password in plain text`);
      for (const needle of secretNeedles(Object.values(dummySecrets(stack)))) check(!state.includes(needle), `the ${stack} state holds a secret in plain text`);
    }
    log(`test:engine passed in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    if (process.env.KEEP_ENGINE_WORKSPACE) log(`kept ${ws.dir}`);
    else ws.remove();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof CheckFailed ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
