// A local HTTP server implementing the Vault API subset the providers use: KV v2 data and metadata (with
// check-and-set, soft delete and destroy), AppRole login, and the configuration endpoints of the host's Vault setup
// (sys/audit, sys/mounts, <mount>/config, sys/policies/acl, sys/auth, auth/approle/role/*), a token check, and
// faults. Loopback only.
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";

export interface FakeVaultOptions {
  /** The token every request must carry (a stack's configured admin token); random otherwise. */
  token?: string;
  /** More AppRoles whose login answers with the token (the environment stacks' configured ones). */
  logins?: { roleId: string; secretId: string }[];
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** Where to listen: 127.0.0.1 and a free port unless given. */
  host?: string;
  port?: number;
}

interface Version {
  data: Record<string, unknown>;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface FakeVault {
  url: string;
  token: string;
  /** The AppRole whose login answers with `token`. */
  appRole: { roleId: string; secretId: string };
  secrets: Map<string, Version[]>;
  /** Requests seen, "METHOD /v1/...". */
  log: string[];
  /** Answer the next requests to paths containing `match` with this status and errors. */
  fault?: { match: string; status: number; errors: string[]; times: number };
  /** The configuration objects, as Vault would list them. */
  config: {
    audits: Map<string, { type: string; options: Record<string, string> }>;
    mounts: Map<string, { type: string; options: { version: string } | null; description: string; maxVersions: number }>;
    policies: Map<string, string>;
    auths: Map<string, { type: string; description: string }>;
    roles: Map<string, { settings: Record<string, unknown>; roleId: string }>;
    secretIds: Map<string, { role: string; secretId: string }>;
  };
  /** Write a new version as someone else would. */
  overwrite(key: string, data: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startFakeVault(mounts: string[] = ["kv-public", "kv-private"], options: FakeVaultOptions = {}): Promise<FakeVault> {
  const token = options.token ?? `hvs.test-${Math.random().toString(36).slice(2)}`;
  const secrets = new Map<string, Version[]>();
  const appRole = { roleId: `role-${Math.random().toString(36).slice(2)}`, secretId: `secret-${Math.random().toString(36).slice(2)}` };
  const config: FakeVault["config"] = {
    audits: new Map(),
    mounts: new Map(mounts.map((m) => [m, { type: "kv", options: { version: "2" }, description: "", maxVersions: 0 }])),
    policies: new Map(),
    auths: new Map(),
    roles: new Map(),
    secretIds: new Map(),
  };
  const state: Partial<FakeVault> = { token, appRole, secrets, log: [], config };
  let serial = 0;
  const random = (prefix: string) => `${prefix}-${++serial}-${Math.random().toString(36).slice(2)}`;
  let clock = 0;
  const now = () => new Date(Date.UTC(2026, 10, 21, 10, 0, clock++)).toISOString();
  const write = (key: string, data: Record<string, unknown>) => {
    const versions = secrets.get(key) ?? [];
    versions.push({ data, created_time: now(), deletion_time: "", destroyed: false });
    secrets.set(key, versions);
    return versions.length;
  };

  const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(body === undefined ? "" : JSON.stringify(body));
      };
      const url = req.url ?? "";
      state.log!.push(`${req.method} ${url}`);
      const f = state.fault;
      if (f && f.times > 0 && url.includes(f.match)) {
        f.times--;
        return send(f.status, { errors: f.errors });
      }
      if (url === "/v1/auth/approle/login" && req.method === "POST") {
        const body = JSON.parse(raw || "{}");
        const known = [appRole, ...(options.logins ?? [])].some((a) => body.role_id === a.roleId && body.secret_id === a.secretId);
        if (!known) return send(400, { errors: ["invalid role or secret ID"] });
        return send(200, { auth: { client_token: token, policies: ["default"], lease_duration: 3600 } });
      }
      if (req.headers["x-vault-token"] !== token) return send(403, { errors: ["permission denied"] });
      const handled = configRoute(req.method ?? "GET", url.replace(/^\/v1\//, ""), JSON.parse(raw || "{}"), send);
      if (handled) return;
      const m = /^\/v1\/([^/]+)\/(data|metadata)\/(.+)$/.exec(url);
      if (!m || config.mounts.get(m[1])?.options?.version !== "2") return send(404, { errors: [`no handler for route "${url}"`] });
      const key = `${m[1]}/${m[3]}`;
      const versions = secrets.get(key) ?? [];
      const latest = versions[versions.length - 1];
      if (m[2] === "data" && req.method === "GET") {
        if (!latest) return send(404, { errors: [] });
        const metadata = { version: versions.length, created_time: latest.created_time, deletion_time: latest.deletion_time, destroyed: latest.destroyed };
        if (latest.deletion_time || latest.destroyed) return send(404, { data: { data: null, metadata } });
        return send(200, { data: { data: latest.data, metadata } });
      }
      if (m[2] === "data" && req.method === "POST") {
        const body = JSON.parse(raw || "{}");
        const cas = body.options?.cas;
        if (cas !== undefined && cas !== versions.length) return send(400, { errors: ["check-and-set parameter did not match the current version"] });
        const version = write(key, body.data);
        return send(200, { data: { version, created_time: versions[versions.length - 1]?.created_time } });
      }
      if (m[2] === "data" && req.method === "DELETE") {
        if (latest) latest.deletion_time = now();
        return send(204);
      }
      if (m[2] === "metadata" && req.method === "DELETE") {
        secrets.delete(key);
        return send(204);
      }
      if (m[2] === "metadata" && req.method === "GET") {
        if (versions.length === 0) return send(404, { errors: [] });
        return send(200, {
          data: {
            current_version: versions.length,
            versions: Object.fromEntries(
              versions.map((v, i) => [String(i + 1), { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed }]),
            ),
          },
        });
      }
      send(405, { errors: ["unsupported operation"] });
    });
  };
  const server: Server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  /** The configuration endpoints; true when the request was one of them. */
  function configRoute(method: string, api: string, body: Record<string, any>, send: (status: number, body?: unknown) => void): boolean {
    const withData = (d: Record<string, unknown>) => send(200, { ...d, data: d });
    let m: RegExpExecArray | null;
    if (api === "sys/audit" && method === "GET")
      return (withData(Object.fromEntries([...config.audits].map(([p, a]) => [`${p}/`, { ...a, path: `${p}/` }]))), true);
    if ((m = /^sys\/audit\/([^/]+)$/.exec(api))) {
      if (method === "PUT") {
        if (config.audits.has(m[1])) return (send(400, { errors: [`path already in use at ${m[1]}/`] }), true);
        config.audits.set(m[1], { type: body.type, options: body.options ?? {} });
      } else if (method === "DELETE") config.audits.delete(m[1]);
      return (send(204), true);
    }
    if ((m = /^sys\/mounts\/([^/]+)(\/tune)?$/.exec(api))) {
      const mount = config.mounts.get(m[1]);
      if (m[2]) {
        if (!mount) return (send(400, { errors: [`no mount entry found at ${m[1]}/`] }), true);
        mount.description = body.description ?? mount.description;
        return (send(204), true);
      }
      if (method === "GET")
        return (
          mount
            ? withData({ type: mount.type, options: mount.options, description: mount.description })
            : send(400, { errors: [`No secret engine mount at ${m[1]}/`] }),
          true
        );
      if (method === "POST") {
        if (mount) return (send(400, { errors: [`path is already in use at ${m[1]}/`] }), true);
        config.mounts.set(m[1], { type: body.type, options: body.options ?? null, description: body.description ?? "", maxVersions: 0 });
        return (send(204), true);
      }
    }
    if ((m = /^([^/]+)\/config$/.exec(api)) && config.mounts.has(m[1])) {
      const mount = config.mounts.get(m[1])!;
      if (method === "GET") return (withData({ max_versions: mount.maxVersions, cas_required: false, delete_version_after: "0s" }), true);
      mount.maxVersions = body.max_versions ?? mount.maxVersions;
      return (send(204), true);
    }
    if ((m = /^sys\/policies\/acl\/([^/]+)$/.exec(api))) {
      if (method === "GET") return (config.policies.has(m[1]) ? withData({ name: m[1], policy: config.policies.get(m[1]) }) : send(404, { errors: [] }), true);
      if (method === "PUT") config.policies.set(m[1], body.policy);
      if (method === "DELETE") config.policies.delete(m[1]);
      return (send(204), true);
    }
    if (api === "sys/auth" && method === "GET") return (withData(Object.fromEntries([...config.auths].map(([p, a]) => [`${p}/`, a]))), true);
    if ((m = /^sys\/auth\/([^/]+)(\/tune)?$/.exec(api))) {
      if (m[2]) config.auths.get(m[1])!.description = body.description;
      else if (config.auths.has(m[1])) return (send(400, { errors: [`path is already in use at ${m[1]}/`] }), true);
      else config.auths.set(m[1], { type: body.type, description: body.description ?? "" });
      return (send(204), true);
    }
    if ((m = /^auth\/approle\/role\/([^/]+)(?:\/(role-id|secret-id|secret-id-accessor\/lookup|secret-id-accessor\/destroy))?$/.exec(api))) {
      if (!config.auths.has("approle")) return (send(404, { errors: [`no handler for route "${api}"`] }), true);
      const role = config.roles.get(m[1]);
      const sub = m[2];
      if (!sub) {
        if (method === "GET") return (role ? withData(role.settings) : send(404, { errors: [] }), true);
        if (method === "POST") config.roles.set(m[1], { settings: { ...(role?.settings ?? {}), ...body }, roleId: role?.roleId ?? random("role") });
        if (method === "DELETE") {
          config.roles.delete(m[1]);
          for (const [a, s] of config.secretIds) if (s.role === m[1]) config.secretIds.delete(a);
        }
        return (send(204), true);
      }
      if (!role) return (send(404, { errors: [`role "${m[1]}" does not exist`] }), true);
      if (sub === "role-id") return (withData({ role_id: role.roleId }), true);
      if (sub === "secret-id") {
        const accessor = random("accessor");
        const secretId = random("secret");
        config.secretIds.set(accessor, { role: m[1], secretId });
        return (withData({ secret_id: secretId, secret_id_accessor: accessor, secret_id_ttl: 0 }), true);
      }
      const entry = config.secretIds.get(body.secret_id_accessor);
      if (!entry || entry.role !== m[1]) return (send(404, { errors: [] }), true);
      if (sub === "secret-id-accessor/destroy") config.secretIds.delete(body.secret_id_accessor);
      return (sub.endsWith("lookup") ? withData({ secret_id_accessor: body.secret_id_accessor, metadata: {} }) : send(204), true);
    }
    return false;
  }

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((r) => server.listen(options.port ?? 0, host, r));
  const { port } = server.address() as { port: number };
  return Object.assign(state as FakeVault, {
    url: `${options.tls ? "https" : "http"}://${host}:${port}`,
    overwrite: (key: string, data: Record<string, unknown>) => void write(key, data),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
