// The CrossGuard pack for `pulumi preview|up --policy-pack policies`. The same rule objects run in-process through
// `dualstack policy` (ops/policy-runner.ts); nothing is implemented twice.
import { PolicyPack } from "@pulumi/policy";
import { buildPolicies } from "./all";

new PolicyPack("ai-dualstack", { policies: buildPolicies() });
