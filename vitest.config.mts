import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi's runtime keeps global state (the mock monitor, the root stack): one file per worker process.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
