// The public ingress's Caddyfile: TLS on 443 for each public host name (the chatbot's and the catalog's), each proxied
// to its service; sites marked auth ask the OAuth2 proxy first (forward_auth): a browser without a session is sent to
// sign in, an API client's bearer JWT is checked. Certificates from Caddy's internal CA, or from an ACME CA.

import { urlEgress, type Egress } from "../egress";

/** Caddy's ACME issuer when no other directory is configured. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

/**
 * Global options: HTTP/1.1 and HTTP/2 only. Caddy serves HTTP/3 by default and advertises it (Alt-Svc: h3) on UDP
 * ports that neither the Compose file publishes nor the firewall opens (found in the real guest).
 */
export const HTTP1_AND_2 = ["\tservers {", "\t\tprotocols h1 h2", "\t}"];

/** What the ingress contacts: its ACME CA's directory, with tls acme (the CA's TLS-ALPN challenge comes in on 443). */
export function ingressEgress(input: Pick<IngressInput, "tls" | "acmeCa">): Egress[] {
  return input.tls === "acme" ? [urlEgress("the ingress: certificates from its ACME CA", input.acmeCa ?? LETS_ENCRYPT_DIRECTORY)] : [];
}

export interface IngressSite {
  hostname: string;
  upstream: string;
  /** Behind the OAuth2 proxy. */
  auth?: boolean;
  /** Paths refused with 404 (admin consoles kept to the operators' gateway). */
  deny?: string[];
}

export interface IngressInput {
  sites: IngressSite[];
  tls: "internal" | "acme";
  /** The ACME account's e-mail (tls: acme). */
  acmeEmail?: string;
  /** Another ACME directory (staging). */
  acmeCa?: string;
  /** The OAuth2 proxy ("oauth2-proxy:4180"), when any site needs it. */
  authUpstream?: string;
}

const HOST = /^[a-z0-9.-]+$/;
const UPSTREAM = /^[a-z0-9.-]+:\d+$/;
const PATH = /^\/[A-Za-z0-9._~/-]*\*?$/;

export function renderCaddyfile(input: IngressInput): string {
  if (input.sites.length === 0) throw new Error("renderCaddyfile: no sites");
  const seen = new Set<string>();
  for (const s of input.sites) {
    if (!HOST.test(s.hostname)) throw new Error(`renderCaddyfile: invalid hostname ${JSON.stringify(s.hostname)}`);
    if (seen.has(s.hostname)) throw new Error(`renderCaddyfile: ${s.hostname} is served twice`);
    seen.add(s.hostname);
    if (!UPSTREAM.test(s.upstream)) throw new Error(`renderCaddyfile: invalid upstream ${JSON.stringify(s.upstream)}`);
    for (const d of s.deny ?? []) if (!PATH.test(d)) throw new Error(`renderCaddyfile: invalid path ${JSON.stringify(d)}`);
    if (s.auth && !input.authUpstream) throw new Error(`renderCaddyfile: ${s.hostname} needs the OAuth2 proxy, which is not given`);
  }
  if (input.authUpstream && !UPSTREAM.test(input.authUpstream)) throw new Error(`renderCaddyfile: invalid OAuth2 proxy ${JSON.stringify(input.authUpstream)}`);
  if (input.tls === "acme" && !(input.acmeEmail && /^[^\s@{}]+@[^\s@{}]+$/.test(input.acmeEmail)))
    throw new Error("renderCaddyfile: tls acme needs the account's e-mail address");
  if (input.acmeCa && !/^https:\/\/[^\s{}]+$/.test(input.acmeCa)) throw new Error(`renderCaddyfile: invalid ACME directory ${JSON.stringify(input.acmeCa)}`);

  const global = [
    "{",
    "\tadmin off",
    // Only 443 is published: no HTTP->HTTPS redirect listener, and ACME answers the TLS-ALPN challenge on 443.
    "\tauto_https disable_redirects",
    ...HTTP1_AND_2,
    ...(input.tls === "acme"
      ? [`\temail ${input.acmeEmail}`, ...(input.acmeCa ? [`\tacme_ca ${input.acmeCa}`] : []), "\tcert_issuer acme {", "\t\tdisable_http_challenge", "\t}"]
      : []),
    "}",
  ];
  const site = (s: IngressSite) => {
    const proxy = [`reverse_proxy ${s.upstream}`];
    const body = s.auth
      ? [
          "handle /oauth2/* {",
          `\treverse_proxy ${input.authUpstream} {`,
          "\t\theader_up X-Real-IP {remote_host}",
          "\t\theader_up X-Forwarded-Uri {uri}",
          "\t}",
          "}",
          "handle {",
          `\tforward_auth ${input.authUpstream} {`,
          "\t\turi /oauth2/auth",
          "\t\theader_up X-Real-IP {remote_host}",
          "\t\tcopy_headers X-Auth-Request-User X-Auth-Request-Email X-Auth-Request-Preferred-Username",
          "\t\t@unauthorized status 401",
          "\t\thandle_response @unauthorized {",
          // API clients (a bearer token) get the 401; browsers go to sign in.
          "\t\t\t@api header Authorization Bearer*",
          "\t\t\trespond @api 401",
          "\t\t\tredir * /oauth2/sign_in?rd={scheme}://{host}{uri}",
          "\t\t}",
          "\t}",
          ...proxy.map((l) => `\t${l}`),
          "}",
        ]
      : proxy;
    return [
      `https://${s.hostname} {`,
      ...(input.tls === "internal" ? ["\ttls internal"] : []),
      "\tencode zstd gzip",
      "\theader {",
      '\t\tStrict-Transport-Security "max-age=31536000"',
      "\t\tX-Content-Type-Options nosniff",
      "\t\tReferrer-Policy no-referrer",
      // Caddy's name, in the Server header and (since 2.10, found in the real guest) in reverse_proxy's Via header.
      "\t\t-Server",
      "\t\t-Via",
      "\t}",
      ...(s.deny ?? []).map((d) => `\trespond ${d} 404`),
      ...body.map((l) => `\t${l}`),
      "}",
    ].join("\n");
  };
  return ["# Managed by ai-dualstack: the only published port of the public environment.", ...global, "", input.sites.map(site).join("\n\n"), ""].join("\n");
}

/** One TLS site of an environment's gateway: a published port, the internal service behind it, its certificate. */
export interface GatewaySite {
  /** The service behind it (also the certificate's name): "qdrant". */
  service: string;
  port: number;
  upstream: string;
  certFile: string;
  keyFile: string;
}

/**
 * The TLS gateway of an environment's VM: every port the VM publishes to the operators' network is served here over
 * TLS 1.3 with a certificate from the environment's CA (one per service) and proxied to the service on the internal
 * Docker network. Works for clients that connect by IP address (no SNI).
 */
export function renderGatewayCaddyfile(sites: GatewaySite[]): string {
  if (sites.length === 0) throw new Error("renderGatewayCaddyfile: no sites");
  const seen = new Set<number>();
  const blocks = sites.map((s) => {
    if (!/^[a-z0-9-]+$/.test(s.service)) throw new Error(`renderGatewayCaddyfile: invalid service name ${JSON.stringify(s.service)}`);
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new Error(`renderGatewayCaddyfile: ${s.service}: invalid port ${s.port}`);
    if (seen.has(s.port)) throw new Error(`renderGatewayCaddyfile: port ${s.port} is used twice`);
    seen.add(s.port);
    if (!/^[a-z0-9.-]+:\d+$/.test(s.upstream)) throw new Error(`renderGatewayCaddyfile: ${s.service}: invalid upstream ${JSON.stringify(s.upstream)}`);
    for (const f of [s.certFile, s.keyFile])
      if (!/^\/[A-Za-z0-9._/-]+$/.test(f)) throw new Error(`renderGatewayCaddyfile: ${s.service}: invalid file path ${JSON.stringify(f)}`);
    return [
      `# ${s.service}`,
      `https://:${s.port} {`,
      `\ttls ${s.certFile} ${s.keyFile} {`,
      "\t\tprotocols tls1.3",
      "\t}",
      "\theader {",
      "\t\t-Server",
      "\t\t-Via",
      "\t}",
      // Streams (model pulls, generations) pass through as they come.
      `\treverse_proxy ${s.upstream} {`,
      "\t\tflush_interval -1",
      "\t}",
      "}",
    ].join("\n");
  });
  return [
    "# Managed by ai-dualstack: TLS for every port this VM publishes to the operators' network.",
    "{",
    "\tadmin off",
    "\tauto_https off",
    ...HTTP1_AND_2,
    "}",
    "",
    blocks.join("\n\n"),
    "",
  ].join("\n");
}
