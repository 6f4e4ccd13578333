// Identity for the public environment: Keycloak as the OIDC provider (its realm, with the ingress's client, imported
// on first start; its admin console kept off the public site), and the OAuth2 proxy the ingress asks before it lets
// a request through to a protected site — a browser signs in, an API client brings a JWT from the provider.
import { z } from "zod";
import type { EnvValue } from "../compose/spec";
import { httpsUrl, pattern } from "../config/fields";
import { gatewayPort, hostname, image, limits } from "./fields";
import { SERVICE_BASE, httpCheck, pgUrl, caFile, type CatalogEntry, type ServiceContext } from "./types";

const realmName = pattern(/^[a-z][a-z0-9-]{0,62}$/, 'a realm name such as "ai-dualstack"');
const keycloakSchema = z.strictObject({
  image: image("quay.io/keycloak/keycloak:26.4.2"),
  /** The public name of the identity provider: "auth.example.org". */
  hostname,
  realm: realmName.default("ai-dualstack"),
  /** The admin console, for the operators only, through the TLS gateway. */
  gatewayPort: gatewayPort(8443),
  ...limits(2048, 2),
});
type KeycloakConfig = z.infer<typeof keycloakSchema>;

export const INGRESS_CLIENT = "ingress";
export const INGRESS_CLIENT_SECRET = "keycloak-ingress-client-secret";

/** The realm imported on first start: sign-up off, the ingress's confidential client with its callbacks. */
export function renderRealm(realm: string, hostnames: string[]): string {
  return JSON.stringify(
    {
      realm,
      enabled: true,
      registrationAllowed: false,
      sslRequired: "external",
      bruteForceProtected: true,
      clients: [
        {
          clientId: INGRESS_CLIENT,
          enabled: true,
          protocol: "openid-connect",
          publicClient: false,
          secret: `{{${INGRESS_CLIENT_SECRET}}}`,
          standardFlowEnabled: true,
          // API clients get JWTs with the client credentials grant.
          serviceAccountsEnabled: true,
          directAccessGrantsEnabled: false,
          redirectUris: hostnames.map((h) => `https://${h}/oauth2/callback`),
          webOrigins: hostnames.map((h) => `https://${h}`),
          protocolMappers: [
            {
              name: "ingress-audience",
              protocol: "openid-connect",
              protocolMapper: "oidc-audience-mapper",
              config: { "included.client.audience": INGRESS_CLIENT, "id.token.claim": "true", "access.token.claim": "true" },
            },
          ],
        },
      ],
    },
    null,
    2,
  );
}

export const keycloak: CatalogEntry<KeycloakConfig> = {
  key: "keycloak",
  title: "Keycloak (OIDC identity provider)",
  tier: 2,
  environments: ["public"],
  schema: keycloakSchema,
  needs: () => [{ what: "postgres", why: "Keycloak keeps its realms and users in PostgreSQL" }],
  sitesOf: (c) => [c.hostname],
  render: (c, ctx) => {
    const db = ctx.postgres!("keycloak");
    return {
      services: [
        {
          ...SERVICE_BASE,
          name: "keycloak",
          image: c.image,
          command: ["start", "--import-realm"],
          environment: {
            KC_DB: "postgres",
            KC_DB_URL: pgUrl.jdbc(db),
            KC_DB_USERNAME: db.user,
            KC_DB_PASSWORD: { secret: db.passwordSecret },
            KC_HOSTNAME: `https://${c.hostname}`,
            KC_HOSTNAME_ADMIN: `https://${ctx.guestIp}:${c.gatewayPort}`,
            // TLS ends at the ingress and the gateway; both pass X-Forwarded-*.
            KC_HTTP_ENABLED: "true",
            KC_PROXY_HEADERS: "xforwarded",
            KC_HEALTH_ENABLED: "true",
            KC_METRICS_ENABLED: "true",
            KC_BOOTSTRAP_ADMIN_USERNAME: "admin",
            KC_BOOTSTRAP_ADMIN_PASSWORD: { secret: "keycloak-admin-password" },
          },
          files: [caFile, { path: `/opt/keycloak/data/import/${c.realm}.json`, template: renderRealm(c.realm, ctx.publicHostnames) }],
          healthcheck: httpCheck("bash", "http://127.0.0.1:9000/health/ready", "120s"),
          networks: ["ai", "edge"],
          memoryMiB: c.memoryMiB,
          cpus: c.cpus,
        },
      ],
      volumes: [],
      routes: [{ service: "keycloak", port: c.gatewayPort, upstream: "keycloak:8080" }],
      sites: [{ service: "keycloak", hostname: c.hostname, upstream: "keycloak:8080", auth: false, deny: ["/admin/*"] }],
      vault: {
        ISSUER: `https://${c.hostname}/realms/${c.realm}`,
        ADMIN_USER: "admin",
        ADMIN_PASSWORD: { template: "{{keycloak-admin-password}}" },
        INGRESS_CLIENT_ID: INGRESS_CLIENT,
        INGRESS_CLIENT_SECRET: { template: `{{${INGRESS_CLIENT_SECRET}}}` },
      },
    };
  },
};

const oauth2Schema = z.strictObject({
  image: image("quay.io/oauth2-proxy/oauth2-proxy:v7.12.0"),
  /** Another OIDC provider's issuer; without it, the environment's Keycloak. Its client secret: secret config oauth2ClientSecret. */
  issuerUrl: httpsUrl.optional(),
  clientId: pattern(/^[A-Za-z0-9._:-]{1,128}$/, 'an OIDC client id such as "ingress"').default(INGRESS_CLIENT),
  /** Who may sign in, by e-mail domain ("*": everyone the provider knows). */
  emailDomains: z
    .array(pattern(/^(\*|[a-z0-9.-]+)$/, 'an e-mail domain such as "example.org", or "*"'))
    .min(1)
    .default(["*"]),
  ...limits(256, 0.5),
});
type OAuth2Config = z.infer<typeof oauth2Schema>;
/** The client secret of another provider (secret config oauth2ClientSecret), given to the stack under this name. */
export const EXTERNAL_CLIENT_SECRET = "oauth2-client-secret";
export const OAUTH2_PROXY = { service: "oauth2-proxy", port: 4180 } as const;

function providerEnvironment(c: OAuth2Config, ctx: ServiceContext): Record<string, EnvValue> {
  const kc = ctx.enabled.keycloak as KeycloakConfig | undefined;
  if (c.issuerUrl || !kc) {
    return { OAUTH2_PROXY_OIDC_ISSUER_URL: c.issuerUrl ?? "", OAUTH2_PROXY_CLIENT_SECRET: { secret: EXTERNAL_CLIENT_SECRET } };
  }
  // Keycloak next to it: the browser goes to its public name, the proxy talks to it on the internal network. The
  // tokens' issuer is the public name either way (KC_HOSTNAME).
  const internal = `http://keycloak:8080/realms/${kc.realm}/protocol/openid-connect`;
  return {
    OAUTH2_PROXY_OIDC_ISSUER_URL: `https://${kc.hostname}/realms/${kc.realm}`,
    OAUTH2_PROXY_SKIP_OIDC_DISCOVERY: "true",
    OAUTH2_PROXY_LOGIN_URL: `https://${kc.hostname}/realms/${kc.realm}/protocol/openid-connect/auth`,
    OAUTH2_PROXY_REDEEM_URL: `${internal}/token`,
    OAUTH2_PROXY_OIDC_JWKS_URL: `${internal}/certs`,
    OAUTH2_PROXY_PROFILE_URL: `${internal}/userinfo`,
    OAUTH2_PROXY_VALIDATE_URL: `${internal}/userinfo`,
    OAUTH2_PROXY_CLIENT_SECRET: { secret: INGRESS_CLIENT_SECRET },
  };
}

export const oauth2Proxy: CatalogEntry<OAuth2Config> = {
  key: "oauth2Proxy",
  title: "OAuth2/JWT protection at the ingress (oauth2-proxy)",
  tier: 1,
  environments: ["public"],
  schema: oauth2Schema,
  needs: (c) => (c.issuerUrl ? [] : [{ what: "keycloak", why: "without issuerUrl the environment's Keycloak is the identity provider" }]),
  render: (c, ctx) => {
    const domains = [...new Set(ctx.publicHostnames.map((h) => `.${h.split(".").slice(-2).join(".")}`))];
    return {
      services: [
        {
          ...SERVICE_BASE,
          name: OAUTH2_PROXY.service,
          image: c.image,
          environment: {
            OAUTH2_PROXY_PROVIDER: "oidc",
            OAUTH2_PROXY_CLIENT_ID: c.clientId,
            ...providerEnvironment(c, ctx),
            OAUTH2_PROXY_COOKIE_SECRET: { secret: "oauth2-proxy-cookie-secret-32" },
            OAUTH2_PROXY_COOKIE_SECURE: "true",
            OAUTH2_PROXY_COOKIE_SAMESITE: "lax",
            OAUTH2_PROXY_EMAIL_DOMAINS: c.emailDomains.join(","),
            OAUTH2_PROXY_HTTP_ADDRESS: `0.0.0.0:${OAUTH2_PROXY.port}`,
            OAUTH2_PROXY_REVERSE_PROXY: "true",
            OAUTH2_PROXY_SET_XAUTHREQUEST: "true",
            OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS: "true",
            OAUTH2_PROXY_SKIP_PROVIDER_BUTTON: "true",
            OAUTH2_PROXY_UPSTREAMS: "static://202",
            OAUTH2_PROXY_WHITELIST_DOMAINS: domains.join(","),
            OAUTH2_PROXY_COOKIE_DOMAINS: domains.join(","),
          },
          // A static binary without a shell: no healthcheck can run inside; the service probe reports it running.
          dependsOnHealthy: ctx.enabled.keycloak && !c.issuerUrl ? ["keycloak"] : [],
          networks: ["ai", "edge"],
          memoryMiB: c.memoryMiB,
          cpus: c.cpus,
        },
      ],
      volumes: [],
      routes: [],
      sites: [],
      vault: {},
    };
  },
};
