// Where Ollama keeps a model on disk, so that a restored guest's copy can be checked without running Ollama: its
// manifest file, whose sha256 is the digest `/api/tags` reports. A name is [host/][namespace/]model[:tag], with
// Ollama's defaults for what it leaves out (registry.ollama.ai, library, latest).
import { DATA_MOUNT_POINT, dockerDaemonConfig } from "./cloud-init";
import { volumeDir } from "./backup/plan";

/** The compose volume the environment's Ollama keeps its models in (lib/compose/services.ts). */
export const OLLAMA_VOLUME = "ollama-models";

/** The manifest of `name`, relative to Ollama's models directory. */
export function manifestPath(name: string): string {
  const parts = name.split("/");
  const last = parts.pop()!;
  const colon = last.lastIndexOf(":");
  const model = colon < 0 ? last : last.slice(0, colon);
  const tag = colon < 0 ? "latest" : last.slice(colon + 1);
  const [host, namespace] = parts.length >= 2 ? [parts.slice(0, -1).join("/"), parts.at(-1)!] : ["registry.ollama.ai", parts[0] ?? "library"];
  if (!model || !tag || !host || !namespace) throw new Error(`ollama model name: expected [host/][namespace/]model[:tag], got ${JSON.stringify(name)}`);
  return `manifests/${host}/${namespace}/${model}/${tag}`;
}

/** Ollama's models directory inside an environment's GPU VM: its volume on the data disk. */
export function gpuVmModelsDir(project: string): string {
  return `${volumeDir(project, OLLAMA_VOLUME, dockerDaemonConfig(DATA_MOUNT_POINT)["data-root"])}/models`;
}
