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
