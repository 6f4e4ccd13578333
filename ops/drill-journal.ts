// Where `dualstack drill rebuild` keeps the record of a drill that stopped after its destroy (ops/drill.ts DrillJournal):
// one JSON file per stack under the operator's state directory ($XDG_STATE_HOME, else ~/.local/state), written
// atomically (a rename), readable by its owner only. A file that is not a journal of this stack is an error naming it,
// never silently ignored: the drill would otherwise start over on a torn-down stack.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { DrillJournal, DrillJournalStore } from "./drill";

export class DrillJournalError extends Error {
  override name = "DrillJournalError";
}

export function drillStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "ai-dualstack");
}

export function fileJournal(dir: string): DrillJournalStore & { file(stack: string): string } {
  const file = (stack: string) => join(dir, `drill-${stack}.json`);
  return {
    file,
    load(stack) {
      let text: string;
      try {
        text = readFileSync(file(stack), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new DrillJournalError(`${file(stack)}: ${(err as Error).message}`);
      }
      let j: Partial<DrillJournal>;
      try {
        j = JSON.parse(text) as Partial<DrillJournal>;
      } catch (err) {
        throw new DrillJournalError(`${file(stack)}: not JSON (${(err as Error).message}); fix or remove it (--restart)`);
      }
      if (j.stack !== stack || !Array.isArray(j.done) || typeof j.destroyedAt !== "number" || !j.before || typeof j.backups !== "object")
        throw new DrillJournalError(`${file(stack)}: not the record of a drill of ${stack}; fix or remove it (--restart)`);
      return j as DrillJournal;
    },
    save(journal) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${file(journal.stack)}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(journal, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, file(journal.stack));
    },
    clear(stack) {
      rmSync(file(stack), { force: true });
    },
  };
}
