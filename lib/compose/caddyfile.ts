// The public ingress's Caddyfile: TLS on 443 for one hostname, proxied to the chatbot; nothing else is served.

export interface IngressInput {
  hostname: string;
  tls: "internal";
  upstream: string;
}

export function renderCaddyfile(input: IngressInput): string {
  if (!/^[a-z0-9.-]+$/.test(input.hostname)) throw new Error(`renderCaddyfile: invalid hostname ${JSON.stringify(input.hostname)}`);
  if (!/^[a-z0-9.-]+:\d+$/.test(input.upstream)) throw new Error(`renderCaddyfile: invalid upstream ${JSON.stringify(input.upstream)}`);
  return [
    "# Managed by ai-dualstack: the only published port of the public environment.",
    "{",
    "\tadmin off",
    "\tauto_https disable_redirects",
    "}",
    "",
    `https://${input.hostname} {`,
    `\ttls ${input.tls}`,
    "\tencode zstd gzip",
    "\theader {",
    '\t\tStrict-Transport-Security "max-age=31536000"',
    "\t\tX-Content-Type-Options nosniff",
    "\t\tReferrer-Policy no-referrer",
    "\t\t-Server",
    "\t}",
    `\treverse_proxy ${input.upstream}`,
    "}",
    "",
  ].join("\n");
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
    for (const f of [s.certFile, s.keyFile]) if (!/^\/[A-Za-z0-9._/-]+$/.test(f)) throw new Error(`renderGatewayCaddyfile: ${s.service}: invalid file path ${JSON.stringify(f)}`);
    return [
      `# ${s.service}`,
      `https://:${s.port} {`,
      `\ttls ${s.certFile} ${s.keyFile} {`,
      "\t\tprotocols tls1.3",
      "\t}",
      "\theader -Server",
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
    "}",
    "",
    blocks.join("\n\n"),
    "",
  ].join("\n");
}
