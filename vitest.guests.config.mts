import { defineConfig } from "vitest/config";

// `npm run test:guests`: what the program puts inside its guests, run in real Debian VMs under QEMU (test/guests):
// the image scripts/guest-image.sh builds (cached), the program's own user-data and install scripts, a package cache
// on the host's loopback, and no network beyond it.
export default defineConfig({
  test: {
    // The suite's name in ops/prerequisites.js: test/helpers/tools-present.ts checks its tools before anything runs.
    name: "guests",
    globalSetup: ["test/helpers/tools-present.ts"],
    include: ["test/guests/**/*.test.ts"],
    pool: "forks",
    // Two cores: one guest at a time.
    fileParallelism: false,
    testTimeout: 10 * 60_000,
    hookTimeout: 30 * 60_000,
  },
});
