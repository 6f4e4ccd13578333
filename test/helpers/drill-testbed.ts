// The running public environment the drills read, for their live-adapter tests: the Ollama and Qdrant stand-ins
// holding one model and one tenant collection, the public stack file pointed at the Proxmox API stand-in, and the
// operator's token set for the duration.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DrillPlan } from "../../ops/drill";
import type { StackWorkspace } from "../../ops/workspace";
import { startFakeOllama, type FakeOllama } from "./fake-ollama";
import type { FakeProxmox } from "./fake-proxmox";
import { startFakeQdrant, type FakeQdrant } from "./fake-qdrant";

export interface DrillTestbed {
  ollama: FakeOllama;
  qdrant: FakeQdrant;
  configFile: string;
  /** The deployed stack's outputs, as the drills read them. */
  outputs: Pick<StackWorkspace, "outputs" | "secretOutput">;
  stop(): Promise<void>;
}

export async function startDrillTestbed(dir: string, proxmox: FakeProxmox, modelDigest: string): Promise<DrillTestbed> {
  const saved = process.env.DUALSTACK_PROXMOX_TOKEN;
  const ollama = await startFakeOllama();
  ollama.models.set("mistral:7b", { size: 4_113_301_824, digest: modelDigest } as never);
  const qdrant = await startFakeQdrant();
  qdrant.collections.set("tenant_acme", { size: 4, distance: "Cosine", points: 12 });
  const configFile = join(dir, "Pulumi.public.yaml");
  writeFileSync(configFile, readFileSync(join(__dirname, "../../Pulumi.public.yaml"), "utf8").replace("https://192.168.10.2:8006/", proxmox.url));
  process.env.DUALSTACK_PROXMOX_TOKEN = proxmox.token;
  return {
    ollama,
    qdrant,
    configFile,
    outputs: {
      outputs: async () => ({ ollamaUrl: ollama.url, gateways: { ollama: ollama.url, qdrant: qdrant.url }, qdrantApiKey: "[secret]" }),
      secretOutput: async (_stack, name) => (name === "qdrantApiKey" ? qdrant.apiKey : undefined),
    },
    stop: async () => {
      if (saved === undefined) delete process.env.DUALSTACK_PROXMOX_TOKEN;
      else process.env.DUALSTACK_PROXMOX_TOKEN = saved;
      await ollama.close();
      await qdrant.close();
    },
  };
}

/** Last night's image backup of every guest, two hours old: each guest as it was then. */
export function nightlyBackups(proxmox: FakeProxmox, plan: DrillPlan): void {
  for (const g of plan.guests)
    proxmox.backups.push({
      volid: `pbs:backup/${g.kind}/${g.vmId}/nightly`,
      vmid: g.vmId,
      ctime: Math.floor(Date.now() / 1000) - 7200,
      protected: 0,
      storage: "pbs",
      guest: structuredClone(proxmox.guests.get(g.vmId)),
    });
}
