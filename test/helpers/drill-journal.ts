// An in-memory record of stopped drills for the tests (ops/drill.ts DrillJournalStore), with what was saved.
import type { DrillJournal, DrillJournalStore } from "../../ops/drill";

export function memoryJournal(): DrillJournalStore & { saved: DrillJournal[]; current: Map<string, DrillJournal> } {
  const current = new Map<string, DrillJournal>();
  const saved: DrillJournal[] = [];
  return {
    saved,
    current,
    load: (stack) => (current.has(stack) ? structuredClone(current.get(stack)) : undefined),
    save: (j) => {
      saved.push(structuredClone(j));
      current.set(j.stack, structuredClone(j));
    },
    clear: (stack) => void current.delete(stack),
  };
}
