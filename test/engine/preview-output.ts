// Reading what `pulumi preview|up` printed: the resource summary and the policy pack's verdicts. (The JSON form of
// a preview carries no policy verdicts, so the text is what there is.)

export interface PolicyVerdict {
  level: "mandatory" | "advisory" | "remediate";
  policy: string;
  /** "type: name" as the engine prints it. */
  resource: string;
}

export interface PreviewSummary {
  /** "create" → 92, "update" → 1, "unchanged" → 3 … */
  counts: Record<string, number>;
  verdicts: PolicyVerdict[];
}

const SUMMARY_LINE = /^\s+(?:[+~-]+|\+-)?\s*(\d+) (to create|to update|to delete|to replace|created|updated|deleted|replaced|unchanged|errored)\s*$/;

const OPERATION: Record<string, string> = {
  "to create": "create",
  created: "create",
  "to update": "update",
  updated: "update",
  "to delete": "delete",
  deleted: "delete",
  "to replace": "replace",
  replaced: "replace",
  unchanged: "unchanged",
  errored: "errored",
};

export function readPreview(out: string): PreviewSummary {
  const counts: Record<string, number> = {};
  const lines = out.split("\n");
  const at = lines.findIndex((l) => /^(Resources|Changes):\s*$/.test(l));
  if (at >= 0) {
    for (const line of lines.slice(at + 1)) {
      const m = SUMMARY_LINE.exec(line);
      if (!m) break;
      counts[OPERATION[m[2]]] = Number(m[1]);
    }
  }
  const verdicts: PolicyVerdict[] = [];
  for (const m of out.matchAll(/^\s+- \[(mandatory|advisory|remediate)\]\s+(\S+)\s+\(([^)]*)\)/gm)) {
    verdicts.push({ level: m[1] as PolicyVerdict["level"], policy: m[2], resource: m[3] });
  }
  return { counts, verdicts };
}

/** "92 create, 1 unchanged; policies: 0 mandatory, 4 advisory (backup-coverage ×4)" */
export function describePreview(s: PreviewSummary): string {
  const counts =
    Object.entries(s.counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ") || "no resources";
  const by = new Map<string, number>();
  for (const v of s.verdicts) by.set(`${v.level} ${v.policy}`, (by.get(`${v.level} ${v.policy}`) ?? 0) + 1);
  const mandatory = s.verdicts.filter((v) => v.level !== "advisory").length;
  const detail = [...by].map(([k, n]) => `${k.split(" ")[1]} ×${n}`).join(", ");
  return `${counts}; policies: ${mandatory} mandatory, ${s.verdicts.length - mandatory} advisory${detail ? ` (${detail})` : ""}`;
}
