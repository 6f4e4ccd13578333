import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The suite's name in ops/prerequisites.js: test/helpers/tools-present.ts checks its tools before anything runs.
    name: "unit",
    globalSetup: ["test/helpers/tools-present.ts"],
    include: ["test/**/*.test.ts"],
    // The integration suite needs the real servers scripts/*.sh build (`npm run test:integration`), the guests
    // suite real VMs (`npm run test:guests`).
    exclude: ["test/integration/**", "test/guests/**", "**/node_modules/**"],
    // Pulumi's runtime keeps global state (the mock monitor, the root stack): one file per worker process.
    pool: "forks",
    // What the CLI keeps between runs (a stopped drill's record) goes to a directory of the run's own, never the
    // operator's ~/.local/state.
    env: { XDG_STATE_HOME: join(tmpdir(), `ai-dualstack-test-state-${process.pid}`) },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
