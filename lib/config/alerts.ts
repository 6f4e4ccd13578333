// Where alerts go (platform.monitoring.alerts): e-mail over SMTP with TLS, a webhook (a chat, ntfy or Matrix
// bridge, an incident tool), and a dead man's switch: the always-firing watchdog sent to an external heartbeat URL,
// which raises the alarm when the pings stop. The URLs carry tokens, so they are secret config; the plain config
// names only their origin, which the firewall admits and the program checks the secret against.
import { z } from "zod";
import { bool, duration, expecting, oneOf, pattern } from "./fields";

export const RECEIVERS = ["email", "webhook"] as const;
export type ReceiverName = (typeof RECEIVERS)[number];
export const ALERT_ENVIRONMENTS = ["platform", "private", "public"] as const;

const address = pattern(/^[^\s@<>",]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, 'an e-mail address such as "ops@example.org"');
/** Scheme, host and port only: the path and query (where tokens live) are in the secret URL. */
const origin = pattern(
  /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/,
  'an https origin such as "https://ntfy.example.org" (no path: the full URL is secret config)',
);
const receivers = z.array(oneOf(RECEIVERS)).min(1, expecting("at least one receiver"));
const bySeverity = z.strictObject({ page: receivers.optional(), ticket: receivers.optional() });

export const alertsSchema = z
  .strictObject({
    email: z
      .strictObject({
        to: z.array(address).min(1, expecting("at least one address")),
        from: address,
        /** "smtp.example.org:587" (STARTTLS, required) or ":465" (TLS from the first byte). */
        smarthost: pattern(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'a host:port such as "smtp.example.org:587"'),
        /** The SMTP login; its password is the secret config alertSmtpPassword. */
        username: pattern(/^\S+$/, "an SMTP user name").optional(),
      })
      .optional(),
    /** The full URL is the secret config alertWebhookUrl; it must start with this origin. */
    webhook: z.strictObject({ origin, sendResolved: bool.default(true) }).optional(),
    /** The watchdog's pings; the full URL is the secret config alertHeartbeatUrl (healthchecks.io and the like). */
    heartbeat: z.strictObject({ origin, interval: duration.default("5m") }).optional(),
    /** Which receivers each severity reaches; default every configured one. */
    page: receivers.optional(),
    ticket: receivers.optional(),
    /** Per environment (the alerts' env label), other receivers for a severity. */
    environments: z.strictObject({ platform: bySeverity.optional(), private: bySeverity.optional(), public: bySeverity.optional() }).prefault({}),
    /** How often a still-firing alert is sent again. */
    repeat: z.strictObject({ page: duration.default("1h"), ticket: duration.default("12h") }).prefault({}),
  })
  .prefault({});
export type AlertsConfig = z.infer<typeof alertsSchema>;

/** Receivers named where none is configured: key path → message. */
export function alertsProblems(a: AlertsConfig): { path: (string | number)[]; message: string }[] {
  const configured = RECEIVERS.filter((r) => a[r] !== undefined);
  const problems: { path: (string | number)[]; message: string }[] = [];
  const check = (list: readonly ReceiverName[] | undefined, path: (string | number)[]) =>
    list?.forEach((r, i) => {
      if (!configured.includes(r))
        problems.push({
          path: [...path, i],
          message: `expected a configured receiver (${configured.map((x) => `"${x}"`).join(", ") || "none is configured"}), got "${r}"`,
        });
    });
  check(a.page, ["page"]);
  check(a.ticket, ["ticket"]);
  for (const env of ALERT_ENVIRONMENTS) {
    check(a.environments[env]?.page, ["environments", env, "page"]);
    check(a.environments[env]?.ticket, ["environments", env, "ticket"]);
  }
  return problems;
}

/** The secret config the configured receivers need. */
export function alertSecretKeys(a: Partial<AlertsConfig> | undefined): { key: string; required: boolean; form: string }[] {
  return [
    {
      key: "alertSmtpPassword",
      required: a?.email?.username !== undefined,
      form: "the SMTP password of platform.monitoring.alerts.email.username (pulumi config set --secret alertSmtpPassword …)",
    },
    {
      key: "alertWebhookUrl",
      required: a?.webhook !== undefined,
      form: "the webhook's full URL, starting with platform.monitoring.alerts.webhook.origin (pulumi config set --secret alertWebhookUrl …)",
    },
    {
      key: "alertHeartbeatUrl",
      required: a?.heartbeat !== undefined,
      form: "the heartbeat's full ping URL, starting with platform.monitoring.alerts.heartbeat.origin (pulumi config set --secret alertHeartbeatUrl …)",
    },
  ];
}
