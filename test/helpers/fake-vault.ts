// A local HTTP server implementing the Vault KV v2 subset the provider uses: GET/POST /v1/<mount>/data/<path>
// (with check-and-set), DELETE data (soft) and metadata (destroy), a token check, and faults. Loopback only.
import { createServer, type Server } from "node:http";

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
  /** Write a new version as someone else would. */
  overwrite(key: string, data: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startFakeVault(mounts: string[] = ["kv-public", "kv-private"]): Promise<FakeVault> {
  const token = `hvs.test-${Math.random().toString(36).slice(2)}`;
  const secrets = new Map<string, Version[]>();
  const appRole = { roleId: `role-${Math.random().toString(36).slice(2)}`, secretId: `secret-${Math.random().toString(36).slice(2)}` };
  const state: Partial<FakeVault> = { token, appRole, secrets, log: [] };
  let clock = 0;
  const now = () => new Date(Date.UTC(2026, 10, 21, 10, 0, clock++)).toISOString();
  const write = (key: string, data: Record<string, unknown>) => {
    const versions = secrets.get(key) ?? [];
    versions.push({ data, created_time: now(), deletion_time: "", destroyed: false });
    secrets.set(key, versions);
    return versions.length;
  };

  const server: Server = createServer((req, res) => {
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
        if (body.role_id !== appRole.roleId || body.secret_id !== appRole.secretId) return send(400, { errors: ["invalid role or secret ID"] });
        return send(200, { auth: { client_token: token, policies: ["default"], lease_duration: 3600 } });
      }
      if (req.headers["x-vault-token"] !== token) return send(403, { errors: ["permission denied"] });
      const m = /^\/v1\/([^/]+)\/(data|metadata)\/(.+)$/.exec(url);
      if (!m || !mounts.includes(m[1])) return send(404, { errors: [`no handler for route "${url}"`] });
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
      send(405, { errors: ["unsupported operation"] });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return Object.assign(state as FakeVault, {
    url: `http://127.0.0.1:${port}`,
    overwrite: (key: string, data: Record<string, unknown>) => void write(key, data),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  });
}
