// Run by test/serialization/providers.test.ts in a plain node process (node --import tsx), never inside vitest:
// Vite's SSR transform changes how modules are captured (DESIGN.md). Serialises each dynamic provider exactly as
// pulumi.dynamic.Resource does, revives it as the provider host does, and drives the revived copy for real.
import * as pulumi from "@pulumi/pulumi";
import { ollamaModelProvider } from "../../components/providers/ollama-model";
import { startFakeOllama } from "../helpers/fake-ollama";

async function main() {
  const provider = ollamaModelProvider;
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const requireFromString = require("require-from-string") as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
  const revived = requireFromString(serialized.text).handler();
  const fake = await startFakeOllama();
  try {
    const created = await revived.create({ host: fake.url, name: "mistral:7b" });
    const read = await revived.read!(created.id, created.outs);
    await revived.delete!(created.id, created.outs);
    process.stdout.write(`${JSON.stringify({
      provider: "ollama",
      bytes: serialized.text.length,
      containsSecrets: serialized.containsSecrets,
      capturesViteModules: serialized.text.includes("__vite_ssr"),
      requires: [...new Set(serialized.text.match(/require\("[^"]+"\)/g) ?? [])].sort(),
      created: created.id,
      readDigest: (read.props as { observed: { digest: string } }).observed.digest,
      deleted: !fake.models.has("mistral:7b"),
    })}\n`);
  } finally {
    await fake.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
