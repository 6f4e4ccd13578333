import { defineConfig } from "vitest/config";

// `npm run test:integration`: the project's components and providers against the real servers (Ollama, the local
// registry, …) that scripts/*.sh build and the tests start on loopback.
export default defineConfig({
  test: {
    // The suite's name in ops/prerequisites.js: test/helpers/tools-present.ts checks its tools before anything runs.
    name: "integration",
    globalSetup: ["test/helpers/tools-present.ts"],
    include: ["test/integration/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
