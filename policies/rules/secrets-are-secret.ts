import type { Rule } from "../support/policy";
import { DOCKER_CONTAINER, PROXMOX_PROVIDER } from "../support/types";

/** Marks the offline engine uses for values it knows are secret or not yet known. */
const REDACTED = ["[secret]", "(known after apply)"];
const SECRET_KEY = /^(password|passwd|secret|token|apitoken|privatekey|secretkey|apikey|clientsecret|.*(password|secret|privatekey|apikey|apitoken))$/i;
const NOT_SECRET = /^(tokenname|tokenid|privilegesseparation|sshpwauth|keepalive|.*name|.*id)$/i;
const SECRET_ENV = /^[A-Z0-9_]*(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*$/;
/** Properties the providers' own schemas mark secret: the engine stores them encrypted whatever the program does. */
const SCHEMA_SECRETS: Record<string, string[]> = {
  [PROXMOX_PROVIDER]: ["apiToken", "password", "ssh", "otp", "authTicket"],
  "command:remote:Command": ["connection"],
  "random:index/randomPassword:RandomPassword": ["result", "bcryptHash"],
};

function plainValue(v: unknown): boolean {
  return typeof v === "string" && v.length > 0 && !REDACTED.includes(v);
}

export const secretsAreSecret: Rule = () => ({
  name: "secrets-are-secret",
  description: "Every secret-looking property (password, token, secret, key) is a Pulumi secret.",
  reason: "A plain value lands unencrypted in the state, in logs and in plan output.",
  source: "security-and-dr.md rule 18; Checkov CKV_DOCKER_1005; pulumi.md §3 (validators see secrets unwrapped)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const allowed = new Set([...(SCHEMA_SECRETS[args.type] ?? []), ...(args.opts.additionalSecretOutputs ?? [])]);
    const walk = (value: unknown, path: string[]) => {
      if (Array.isArray(value)) return value.forEach((v, i) => walk(v, [...path, String(i)]));
      if (!value || typeof value !== "object") return;
      for (const [k, v] of Object.entries(value)) {
        if (path.length === 0 && allowed.has(k)) continue;
        if (k === "__provider") continue;
        if (SECRET_KEY.test(k) && !NOT_SECRET.test(k) && plainValue(v)) report(`${args.name}: ${[...path, k].join(".")} holds a plain value; make it a secret`);
        walk(v, [...path, k]);
      }
    };
    walk(args.props, []);
    // Container environments: KEY=value strings.
    if (args.type === DOCKER_CONTAINER && Array.isArray(args.props.envs) && !allowed.has("envs")) {
      for (const e of args.props.envs) {
        const [key, ...rest] = String(e).split("=");
        if (SECRET_ENV.test(key) && plainValue(rest.join("="))) report(`${args.name}: environment variable ${key} holds a plain value; make it a secret`);
      }
    }
  },
});
