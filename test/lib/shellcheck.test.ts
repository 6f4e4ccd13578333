// Every shell script the program renders, and the repository's own, through the real shellcheck (Debian's package):
// the command resources' scripts of every shipped and example stack (the text the hosts and guests run, with
// root's login shell, bash), the files those scripts install that are scripts themselves (a here-document that
// starts with #!: systemd helpers, probes, backup and restore scripts), the user-data's shell scripts, and scripts/
// with .ci/run. A finding fails the test, but for the few that are how rendered code looks (EXCLUDED, each with why).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateStack } from "../../ops/engine";
import { ROOT, dummySecrets } from "../helpers/config";
import { tool } from "../helpers/process";

/** Findings that are the shape of generated code, not mistakes in it. */
const EXCLUDED: Record<string, string> = {
  SC1091: "a file sourced on the guest (/etc/os-release) is not here to follow",
  SC2043: "a loop over a rendered list that has one item in this stack",
  SC2194: "a case over a rendered constant list (membership test of an accepted key fingerprint)",
};
/** The prelude's `changed` flag: set by put() in every script, read only by the scripts that restart something. */
const PRELUDE_FLAG = /^changed appears unused/;

interface Finding {
  file: string;
  line: number;
  code: number;
  level: string;
  message: string;
}

function shellcheck(files: string[], shell?: string): Finding[] {
  const r = spawnSync(tool("shellcheck"), ["-f", "json", "-x", ...(shell ? ["-s", shell] : []), ...files], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`shellcheck failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout || "[]") as Finding[]).filter((f) => !EXCLUDED[`SC${f.code}`] && !(f.code === 2034 && PRELUDE_FLAG.test(f.message)));
}

const render = (fs: Finding[]) => fs.map((f) => `${f.file.split("/").pop()}:${f.line}: SC${f.code} (${f.level}) ${f.message}`);

const STACKS = [
  ["host", undefined],
  ["private", undefined],
  ["public", undefined],
  ["host", "examples/catalog/Pulumi.host.yaml"],
  ["private", "examples/catalog/Pulumi.private.yaml"],
  ["public", "examples/catalog/Pulumi.public.yaml"],
] as const;

let dir: string;
let scripts: { file: string; shell: string }[];

/** The interpreter a script's #! line names (bash or sh). */
const shellOf = (text: string) => (/^#!.*\bbash\b/.test(text) ? "bash" : "sh");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "shellcheck-"));
  const seen = new Set<string>();
  scripts = [];
  const add = (name: string, text: string, shell: string) => {
    if (seen.has(text)) return;
    seen.add(text);
    const file = join(dir, `${String(scripts.length).padStart(3, "0")}-${name.replace(/[^A-Za-z0-9.-]/g, "_")}`);
    writeFileSync(file, text);
    scripts.push({ file, shell });
  };
  for (const [stack, file] of STACKS) {
    // With the secret config a deployed stack has: the scripts it switches on (file-level backups…) are rendered too.
    const plan = await evaluateStack(stack, { configFile: file && join(ROOT, file), secrets: dummySecrets(stack) });
    for (const r of plan.resources) {
      if (r.type.startsWith("command:")) {
        for (const k of ["create", "update", "delete"]) {
          const text = r.inputs[k];
          if (typeof text !== "string") continue;
          add(`${r.name}.${k}`, text, "bash");
          for (const m of text.matchAll(/<<'([A-Z_]+)'\n(#![^\n]*\n[\s\S]*?)\n\1\n/g)) add(`${r.name}.${k}.${m.index}`, `${m[2]}\n`, shellOf(m[2]));
        }
      }
      const raw = (r.inputs.sourceRaw as { data?: unknown } | undefined)?.data;
      if (typeof raw === "string" && raw.startsWith("#cloud-config")) {
        const doc = parse(raw) as { runcmd?: unknown[]; write_files?: { path: string; content?: unknown }[] };
        (doc.runcmd ?? []).forEach((c, i) => typeof c === "string" && add(`${r.name}.runcmd${i}`, `${c}\n`, "sh"));
        for (const f of doc.write_files ?? [])
          if (typeof f.content === "string" && f.content.startsWith("#!")) add(`${r.name}${f.path}`, f.content, shellOf(f.content));
      }
    }
  }
}, 180_000);

describe("shellcheck", () => {
  it("passes every script the program renders, for every shipped and example stack", () => {
    // The collection found the scripts it should (a broken extraction would pass vacuously).
    expect(scripts.length).toBeGreaterThan(50);
    expect(scripts.filter((s) => /\.\d+$/.test(s.file)).length).toBeGreaterThan(10);
    const findings = ["bash", "sh"].flatMap((shell) => {
      const files = scripts.filter((s) => s.shell === shell).map((s) => s.file);
      return files.length ? shellcheck(files, shell) : [];
    });
    expect(render(findings)).toEqual([]);
  });

  it("passes the repository's own scripts (scripts/, .ci/run)", () => {
    const files = [
      ".ci/run",
      ...readdirSync(join(ROOT, "scripts"))
        .filter((f) => f.endsWith(".sh"))
        .map((f) => `scripts/${f}`),
      ...readdirSync(join(ROOT, "scripts/lib")).map((f) => `scripts/lib/${f}`),
    ];
    expect(files.length).toBeGreaterThan(6);
    expect(render(shellcheck(files))).toEqual([]);
  });

  it("catches a mistake, and an excluded code stays the only thing let through", () => {
    writeFileSync(join(dir, "bad.sh"), "#!/bin/bash\nfor f in $(ls /tmp); do rm $f; done\nunused=1\n");
    expect(render(shellcheck([join(dir, "bad.sh")])).map((l) => l.split(" ")[1])).toEqual(expect.arrayContaining(["SC2045", "SC2086", "SC2034"]));
  });
});
