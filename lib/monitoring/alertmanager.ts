// Alertmanager in the monitoring LXC (Debian's prometheus-alertmanager 0.25): receivers and routes from
// platform.monitoring.alerts. Alerts are grouped per alert, environment and guest; each severity goes to its
// receivers (an environment may have others), the always-firing Watchdog goes only to the heartbeat, and a guest
// that is down silences the other alerts about that guest. The file holds the webhook URLs and the SMTP password
// (0.25 reads neither from a file), so it reaches the container on stdin and is written 0640 for Alertmanager only.
import { stringify } from "yaml";
import { ALERT_ENVIRONMENTS, RECEIVERS, type AlertsConfig, type ReceiverName } from "../config/alerts";
import type { Egress } from "../egress";
import { urlEgress } from "../egress";
import { SCRIPT_PRELUDE } from "../shell";

export const ALERTMANAGER_CONFIG = "/etc/prometheus/alertmanager.yml";
/** Alertmanager's state (silences, notification log) and its unit's arguments on Debian. */
const ALERTMANAGER_DEFAULTS = "/etc/default/prometheus-alertmanager";

export interface AlertSecrets {
  smtpPassword?: string;
  webhookUrl?: string;
  heartbeatUrl?: string;
}

const SEVERITIES = ["page", "ticket"] as const;
const NOBODY = "nobody";

const configured = (a: AlertsConfig): ReceiverName[] => RECEIVERS.filter((r) => a[r] !== undefined);
const receiverName = (set: readonly ReceiverName[]) => (set.length === 0 ? NOBODY : [...new Set(set)].sort().join("+"));

/** The receivers a severity reaches in an environment (or anywhere, without one). */
export function receiversFor(a: AlertsConfig, severity: (typeof SEVERITIES)[number], env?: (typeof ALERT_ENVIRONMENTS)[number]): ReceiverName[] {
  return [...((env && a.environments[env]?.[severity]) ?? a[severity] ?? configured(a))];
}

/** Problems of the secret URLs against the plain config, never showing them. */
export function alertSecretProblems(a: AlertsConfig, s: AlertSecrets): string[] {
  const problems: string[] = [];
  const startsWith = (key: string, url: string | undefined, origin: string) => {
    const base = origin.replace(/\/$/, "");
    if (url !== undefined && !(url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`)))
      problems.push(`ai-dualstack:${key}: expected a URL starting with ${base} (the origin in platform.monitoring.alerts), got another URL`);
  };
  if (a.webhook) startsWith("alertWebhookUrl", s.webhookUrl, a.webhook.origin);
  if (a.heartbeat) startsWith("alertHeartbeatUrl", s.heartbeatUrl, a.heartbeat.origin);
  return problems;
}

/** What Alertmanager contacts: the SMTP relay, the webhook's and the heartbeat's origins. */
export function alertEgress(a: AlertsConfig, guest: string): Egress[] {
  const out: Egress[] = [];
  if (a.email) {
    const [host, port] = a.email.smarthost.split(":");
    out.push({ what: `${guest}: alert e-mail through ${a.email.smarthost}`, hosts: [host], proto: "tcp", port: Number(port) });
  }
  if (a.webhook) out.push(urlEgress(`${guest}: the alert webhook`, a.webhook.origin));
  if (a.heartbeat) out.push(urlEgress(`${guest}: the alert heartbeat (dead man's switch)`, a.heartbeat.origin));
  return out;
}

export function renderAlertmanagerConfig(a: AlertsConfig, s: AlertSecrets): string {
  const needed = (key: keyof AlertSecrets, what: string) => {
    const v = s[key];
    if (v === undefined) throw new Error(`renderAlertmanagerConfig: ${what} needs its secret config`);
    return v;
  };
  const sets = new Map<string, ReceiverName[]>();
  const use = (set: ReceiverName[]) => {
    const name = receiverName(set);
    if (name !== NOBODY) sets.set(name, [...new Set(set)].sort());
    return name;
  };
  const routes: Record<string, unknown>[] = [
    {
      matchers: ['alertname="Watchdog"'],
      receiver: a.heartbeat ? "heartbeat" : NOBODY,
      group_by: ["alertname"],
      group_wait: "0s",
      group_interval: a.heartbeat?.interval ?? "5m",
      repeat_interval: a.heartbeat?.interval ?? "5m",
    },
  ];
  for (const env of ALERT_ENVIRONMENTS) {
    for (const severity of SEVERITIES) {
      if (!a.environments[env]?.[severity]) continue;
      routes.push({ matchers: [`env="${env}"`, `severity="${severity}"`], receiver: use(receiversFor(a, severity, env)), repeat_interval: a.repeat[severity] });
    }
  }
  for (const severity of SEVERITIES)
    routes.push({ matchers: [`severity="${severity}"`], receiver: use(receiversFor(a, severity)), repeat_interval: a.repeat[severity] });

  const receivers: Record<string, unknown>[] = [{ name: NOBODY }];
  if (a.heartbeat) receivers.push({ name: "heartbeat", webhook_configs: [{ url: needed("heartbeatUrl", "the heartbeat"), send_resolved: false }] });
  for (const [name, set] of sets) {
    receivers.push({
      name,
      ...(set.includes("email") && a.email ? { email_configs: [{ to: a.email.to.join(", "), send_resolved: true }] } : {}),
      ...(set.includes("webhook") && a.webhook
        ? { webhook_configs: [{ url: needed("webhookUrl", "the webhook"), send_resolved: a.webhook.sendResolved, max_alerts: 0 }] }
        : {}),
    });
  }
  const config = {
    global: {
      resolve_timeout: "5m",
      ...(a.email
        ? {
            smtp_from: a.email.from,
            smtp_smarthost: a.email.smarthost,
            // Port 465 is TLS from the first byte; anything else must STARTTLS, never plain text.
            smtp_require_tls: !a.email.smarthost.endsWith(":465"),
            ...(a.email.username ? { smtp_auth_username: a.email.username, smtp_auth_password: needed("smtpPassword", "the SMTP login") } : {}),
          }
        : {}),
    },
    route: { receiver: NOBODY, group_by: ["alertname", "env", "guest"], group_wait: "30s", group_interval: "5m", repeat_interval: a.repeat.ticket, routes },
    // A guest that is down: the other alerts about it (its exporters, services, models) are symptoms.
    inhibit_rules: [{ source_matchers: ['alertname="GuestDown"'], target_matchers: ['alertname!~"GuestDown|Watchdog"'], equal: ["guest"] }],
    receivers,
  };
  return `# Managed by ai-dualstack (platform.monitoring.alerts).\n${stringify(config, { lineWidth: 0 })}`;
}

/** Reads the configuration on stdin, checks it with amtool, and restarts Alertmanager only when it changed. */
export function renderAlertmanagerScript(dataDir: string): string {
  return `${SCRIPT_PRELUDE}
new="$(mktemp)"; cat > "$new"
amtool check-config "$new" >/dev/null || { echo "alertmanager: the rendered configuration does not pass amtool check-config"; rm -f "$new"; exit 1; }
put ${ALERTMANAGER_CONFIG} 0640 root:prometheus < "$new"; rm -f "$new"
mkdir -p "$ROOT${dataDir}/alertmanager"; chown prometheus:prometheus "$ROOT${dataDir}/alertmanager"
printf '%s\\n' '# Managed by ai-dualstack.' 'ARGS="--config.file=${ALERTMANAGER_CONFIG} --storage.path=${dataDir}/alertmanager --web.listen-address=0.0.0.0:9093 --cluster.listen-address="' | put ${ALERTMANAGER_DEFAULTS} 0644 root:root
systemctl enable prometheus-alertmanager >/dev/null
if [ "$changed" = 1 ]; then systemctl restart prometheus-alertmanager; echo "alertmanager: configuration changed, restarted"; else systemctl start prometheus-alertmanager; echo "alertmanager: unchanged"; fi
`;
}
