// The operator CLI, `dualstack`. Exit codes (DESIGN.md §4): 0 ok, 1 policy violation or failed check,
// 2 invalid input (config, arguments), 3 drift.
import { Command, CommanderError } from "commander";
import { ConfigError } from "../lib/config/load";
import { renderDiagram } from "./diagram";
import { StackFileError, evaluateStack } from "./engine";
import { planJson, renderCounts, renderTree } from "./plan-view";

export const EXIT = { ok: 0, failed: 1, invalidInput: 2, drift: 3 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

export async function main(argv: string[], io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("dualstack")
    .description("Operate ai-dualstack: one Proxmox VE host, two isolated AI environments")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command("plan")
    .description("show what a stack would create, offline (no Proxmox, no Pulumi CLI)")
    .argument("<stack>", "host, private or public (reads Pulumi.<stack>.yaml)")
    .option("--json", "print {stack, resources:[{urn,type,name,parent,inputs}]} with secrets redacted")
    .option("--diagram", "print a mermaid flowchart of the stack's topology")
    .option("--config <file>", "a stack config file in the Pulumi.<stack>.yaml format instead of the committed one")
    .action(async (stack: string, opts: { json?: boolean; diagram?: boolean; config?: string }) => {
      if (!STACK_NAME.test(stack)) throw new ConfigError([`stack: expected a stack name such as "host", "private" or "public", got ${JSON.stringify(stack)}`]);
      const plan = await evaluateStack(stack, { configFile: opts.config });
      if (opts.json) {
        io.out(`${JSON.stringify({ ...planJson(plan), ...(opts.diagram ? { diagram: renderDiagram(plan) } : {}) }, null, 2)}\n`);
      } else if (opts.diagram) {
        io.out(`${renderDiagram(plan)}\n`);
      } else {
        io.out(`${renderTree(plan)}\n\n${renderCounts(plan)}\n`);
      }
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exits with code 0; everything else commander rejects is an argument error.
      code = err.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
    } else if (err instanceof ConfigError) {
      io.err(`${err.message}\n`);
      code = EXIT.invalidInput;
    } else if (err instanceof StackFileError) {
      io.err(`error: ${err.message}\n`);
      code = EXIT.invalidInput;
    } else {
      throw err;
    }
  }
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`dualstack: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
