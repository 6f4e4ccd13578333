#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the package bin works without a build step.
require("tsx/cjs");
const { main } = require("../cli.ts");

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`dualstack: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
