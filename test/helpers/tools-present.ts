// Vitest's globalSetup for both suites: before any test file runs, every tool the suite needs (ops/prerequisites.js)
// must be installed, else the run stops at once with the list and the commands that install them, instead of tests
// failing one by one (or, before, waiting on programs that never started). DUALSTACK_TOOL_CHECK=off skips the check,
// for running a few files on a machine without everything: a test that needs a missing tool then fails at once,
// naming it (test/helpers/process.ts).
import type { TestProject } from "vitest/node";
import { missingTools, renderMissing, type Suite } from "../../ops/prerequisites";

export default function setup(project: TestProject): void {
  if (process.env.DUALSTACK_TOOL_CHECK === "off") return;
  const suite = project.config.name as Suite;
  const missing = missingTools([suite]);
  if (missing.length > 0) {
    throw new Error(
      `the ${suite} suite needs tools that are not installed (DUALSTACK_TOOL_CHECK=off runs the tests that do not need them)\n${renderMissing(missing)}`,
    );
  }
}
