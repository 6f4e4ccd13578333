// `dualstack drift <stack>`: a refresh in preview (nothing written) and a report of what differs between the state
// and the real infrastructure. Exit 3 on drift, 0 on none (DESIGN.md §4).
import type { ResourceChange, StackWorkspace } from "./workspace";

export interface DriftReport {
  stack: string;
  drifted: boolean;
  resources: ResourceChange[];
}

export async function detectDrift(ws: StackWorkspace, stack: string): Promise<DriftReport> {
  const resources = await ws.refreshPreview(stack);
  return { stack, drifted: resources.length > 0, resources };
}

export function renderDrift(r: DriftReport): string {
  if (!r.drifted) return `stack ${r.stack}: no drift\n`;
  const lines = r.resources.map(
    (c) => `  ${c.op.padEnd(8)} ${c.urn.split("::").at(-1)} (${c.type})${c.properties.length ? `: ${c.properties.join(", ")}` : ""}`,
  );
  return `stack ${r.stack}: ${r.resources.length} resource(s) drifted\n${lines.join("\n")}\n`;
}
