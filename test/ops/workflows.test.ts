// The operator's CI in the repository (Gitea Actions, GitHub-compatible syntax): checked by the real actionlint
// (built from the Go module proxy by scripts/actionlint.sh), and what each workflow promises.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { tool } from "../helpers/process";

const ROOT = join(__dirname, "../..");
const files = [".gitea/workflows/preview.yml", ".gitea/workflows/drift.yml"].map((f) => join(ROOT, f));
const actionlint = (paths: string[]) => {
  const r = spawnSync(tool("actionlint"), ["-no-color", ...paths], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
};

describe("operator CI workflows", () => {
  it("pass actionlint, which catches a broken workflow", () => {
    expect(actionlint(files)).toEqual({ code: 0, out: "" });
    const dir = mkdtempSync(join(tmpdir(), "wf-"));
    writeFileSync(join(dir, "bad.yml"), "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n");
    expect(actionlint([join(dir, "bad.yml")]).code).not.toBe(0);
  });

  it("pull requests preview every stack with the policy pack; nightly drift fails the run on drift", () => {
    const preview = parse(readFileSync(files[0], "utf8"));
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.jobs.preview.strategy.matrix.stack).toEqual(["host", "private", "public"]);
    expect(preview.jobs.preview.steps.at(-1).run).toBe('pulumi preview --stack "${{ matrix.stack }}" --policy-pack policies --diff --non-interactive');
    const drift = parse(readFileSync(files[1], "utf8"));
    expect(drift.on.schedule).toEqual([{ cron: "17 3 * * *" }]);
    expect(drift.jobs.drift.strategy.matrix.stack).toEqual(["host", "private", "public"]);
    expect(drift.jobs.drift.steps.at(-1).run).toBe('npm run -s dualstack -- drift "${{ matrix.stack }}"');
    // Secrets only through the secrets store.
    for (const wf of [preview, drift]) expect(JSON.stringify(wf)).not.toMatch(/PASSPHRASE: [^$]/);
  });
});
