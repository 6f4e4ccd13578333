import { knownEntries, type Rule } from "../support/policy";
import { DOCKER_CONTAINER, PROXMOX_PROVIDER } from "../support/types";

const SECRET_KEY = /^(password|passwd|secret|token|apitoken|privatekey|secretkey|apikey|clientsecret|.*(password|secret|privatekey|apikey|apitoken))$/i;
const NOT_SECRET = /^(tokenname|tokenid|privilegesseparation|sshpwauth|keepalive|.*name|.*id)$/i;
const SECRET_ENV = /^[A-Z0-9_]*(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*$/;
/** Properties the providers' own schemas mark secret: the engine stores them encrypted whatever the program does. */
const SCHEMA_SECRETS: Record<string, string[]> = {
  [PROXMOX_PROVIDER]: ["apiToken", "password", "ssh", "otp", "authTicket"],
  "command:remote:Command": ["connection"],
  "random:index/randomPassword:RandomPassword": ["result", "bcryptHash"],
};
/**
 * The dynamic providers' default provider receives the whole stack config as its inputs (`namespace:key`); which of
 * those are secrets is the config's business, and the config loader refuses a secret key given in plain text.
 */
const CONFIG_CARRIER = "pulumi:providers:pulumi-nodejs";

/** Marks of the offline engine: "[secret]" for a secret, "(known after apply)" for a value not known yet. */
function hasValue(v: unknown): boolean {
  return typeof v === "string" && v.length > 0;
}

export const secretsAreSecret: Rule = () => ({
  name: "secrets-are-secret",
  description:
    "Every secret-looking property (password, token, secret, key) is declared secret: a provider-schema secret or listed in additionalSecretOutputs.",
  reason:
    "A plain value lands unencrypted in the state, in logs and in plan output. Validators receive secrets already unwrapped, so a value cannot show that it is secret; the declaration is what the pack can check, and it keeps the value encrypted in the state whatever the program did to it.",
  source: "security-and-dr.md rule 18; Checkov CKV_DOCKER_1005; pulumi.md §3 (validators see secrets unwrapped)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const allowed = new Set([...(SCHEMA_SECRETS[args.type] ?? []), ...(args.opts.additionalSecretOutputs ?? [])]);
    const undeclared = (what: string) =>
      report(`${args.name}: ${what} is not declared secret; make it a Pulumi secret and list "${what.split(/[.\s]/)[0]}" in additionalSecretOutputs`);
    // A real preview hands over unknown values as throwing proxies: knownEntries steps over them.
    const walk = (value: unknown, path: string[]) => {
      if (!value || typeof value !== "object") return;
      for (const [k, v] of knownEntries(value)) {
        if (path.length === 0 && (allowed.has(k) || (args.type === CONFIG_CARRIER && k.includes(":")))) continue;
        if (k === "__provider") continue;
        if (SECRET_KEY.test(k) && !NOT_SECRET.test(k) && hasValue(v)) undeclared([...path, k].join("."));
        walk(v, [...path, k]);
      }
    };
    walk(args.props, []);
    // Container environments: KEY=value strings.
    const envs = knownEntries(args.props).find(([k]) => k === "envs")?.[1];
    if (args.type === DOCKER_CONTAINER && Array.isArray(envs) && !allowed.has("envs")) {
      for (const [, e] of knownEntries(envs)) {
        const [key, ...rest] = String(e).split("=");
        if (SECRET_ENV.test(key) && hasValue(rest.join("="))) undeclared(`envs ${key}`);
      }
    }
  },
});
