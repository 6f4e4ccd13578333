#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the package bin works without a build step.
require("tsx/cjs");
const { run } = require("../cli.ts");

void run(process.argv.slice(2));
