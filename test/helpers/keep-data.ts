// Runs a provider call as the rebuild drill's destroy runs it: with the providers told to keep data in place
// (components/providers/keep-data.ts), and the environment as it was afterwards.
import { KEEP_DATA_ENV } from "../../components/providers/keep-data";

export async function keepingData<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env[KEEP_DATA_ENV];
  process.env[KEEP_DATA_ENV] = "1";
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[KEEP_DATA_ENV];
    else process.env[KEEP_DATA_ENV] = saved;
  }
}
