// The whole box at once: per node its RAM (the host's share, the platform's containers, each environment's budget
// and what its guests take of it) and per GPU the environment that owns it and how full its VRAM is. Built from
// the host config and the environments' configs alone, as `dualstack capacity` prints it.
import { ENVIRONMENTS, type EnvironmentConfig, type EnvironmentName, type HostConfig } from "../config/schema";
import { environmentCatalog, environmentStack } from "../compose/services";
import { environmentSlice } from "../environment-slice";
import { boxMemory, gib, type NodeMemory } from "./host-memory";
import { capacityReport, type CapacityReport } from "./report";

export interface BoxEnvironment {
  env: EnvironmentName;
  /** Absent when the environment has no stack config yet, or an invalid one (`problem`). */
  report?: CapacityReport;
  problem?: string;
}

export interface BoxReport {
  nodes: NodeMemory[];
  environments: BoxEnvironment[];
  /** Every node's RAM holds its commitments and every configured environment fits its GPU, VM and budget. */
  fits: boolean;
}

export function boxReport(
  host: HostConfig,
  environments: Partial<Record<EnvironmentName, EnvironmentConfig>>,
  problems: Partial<Record<EnvironmentName, string>> = {},
): BoxReport {
  const nodes = boxMemory(host);
  const envs = ENVIRONMENTS.map((env): BoxEnvironment => {
    const c = environments[env];
    if (!c) return problems[env] ? { env, problem: problems[env] } : { env };
    const slice = environmentSlice(host, env, `${env}-token`);
    const catalog = environmentCatalog(c, env);
    const spec = environmentStack(c, env, catalog);
    return { env, report: capacityReport(c, slice.gpu, { reservedVramMiB: catalog.reservedVramMiB, services: spec.services, budget: slice.memory }) };
  });
  return { nodes, environments: envs, fits: nodes.every((n) => n.fits) && envs.every((e) => !e.problem && (e.report?.fits ?? true)) };
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

export function renderBox(box: BoxReport, host: HostConfig): string {
  const out: string[] = [];
  for (const n of box.nodes) {
    const rows: string[][] = [["", "GiB", "what"]];
    for (const l of n.lines) {
      const env = l.what.startsWith("environment ") ? box.environments.find((e) => `environment ${e.env}` === l.what) : undefined;
      const use = env?.report?.host;
      const what =
        l.what === "system"
          ? "Proxmox VE, the kernel, QEMU's overhead"
          : l.what === "zfs-arc"
            ? "the ZFS ARC at its maximum (set by the host stack)"
            : l.what.startsWith("platform ")
              ? "platform container (its memory limit)"
              : use
                ? `budget; its guests take ${gib(use.usedBytes)} (${use.lines.map((x) => `${x.what} ${gib(x.bytes)}`).join(", ")})${use.fits ? "" : " — OVER BUDGET"}`
                : `budget; ${env?.problem ?? "no stack config for this environment"}`;
      rows.push([l.what.replace(/^environment /, ""), gib(l.bytes).replace(/ GiB$/, ""), what]);
    }
    const free = n.totalBytes - n.usedBytes;
    rows.push([free >= 0 ? "unassigned" : "OVER-COMMITTED", gib(Math.abs(free)).replace(/ GiB$/, ""), ""]);
    out.push(`node ${n.node}: ${gib(n.totalBytes)} of RAM — ${n.fits ? "fits" : "DOES NOT FIT"}`, ...table(rows).map((r) => `  ${r}`), "");
  }
  out.push("GPUs:");
  for (const node of host.nodes) {
    for (const g of node.gpus) {
      const r = box.environments.find((e) => e.env === g.environment)?.report;
      if (!r) {
        const problem = box.environments.find((e) => e.env === g.environment)?.problem;
        out.push(`  ${g.mapping} (${g.model}) on ${node.name} → ${g.environment}: ${problem ?? "no stack config for this environment"}`);
        continue;
      }
      const used =
        r.runtime === "vllm" && r.vllm
          ? `vLLM serves ${r.vllm.model}: ${gib(r.vllm.budgetBytes)} share${r.reservedVramBytes > 0 ? ` + ${gib(r.reservedVramBytes)} kept for the notebooks` : ""}`
          : `Ollama, up to ${r.coResident.maxLoaded} of ${r.models.length} model(s) loaded: ${gib(r.coResident.worstCaseBytes)}`;
      const gpuFits = r.vllm ? r.vllm.fits : r.models.every((m) => m.fits) && r.coResident.worstCaseFits;
      out.push(
        `  ${g.mapping} (${g.model}) on ${node.name} → ${g.environment}: ${used} of ${gib(r.gpu.vramBytes)} VRAM — ${gpuFits ? "fits" : "DOES NOT FIT"}`,
      );
      if (r.memory)
        out.push(`    VM memory: ${gib(r.memory.totalBytes)} of ${gib(r.memory.vmBytes)} for its services — ${r.memory.fits ? "fits" : "DOES NOT FIT"}`);
    }
  }
  return out.join("\n");
}
