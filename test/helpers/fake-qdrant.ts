// A local HTTP server implementing the Qdrant REST subset the collection provider uses: GET/PUT/DELETE
// /collections/<name>, POST /collections/<name>/points/count, an api-key check, and faults. Loopback only.
import { createServer, type Server } from "node:http";

interface Collection {
  size: number;
  distance: string;
  points: number;
}

export interface FakeQdrant {
  url: string;
  apiKey: string;
  collections: Map<string, Collection>;
  /** Requests seen, "METHOD /collections/...". */
  log: string[];
  /** Answer the next requests to paths containing `match` with this status and error. */
  fault?: { match: string; status: number; error: string; times: number };
  close(): Promise<void>;
}

export async function startFakeQdrant(): Promise<FakeQdrant> {
  const apiKey = `qdrant-test-${Math.random().toString(36).slice(2)}`;
  const state: Partial<FakeQdrant> = { apiKey, collections: new Map(), log: [] };
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, message: string) => send(status, { status: { error: message }, time: 0 });
      const url = req.url ?? "";
      state.log!.push(`${req.method} ${url}`);
      const f = state.fault;
      if (f && f.times > 0 && url.includes(f.match)) {
        f.times--;
        return error(f.status, f.error);
      }
      // Health endpoints need no key, as in Qdrant.
      if (url === "/readyz" && req.method === "GET") return send(200, "all shards are ready");
      if (req.headers["api-key"] !== apiKey) return error(401, "Invalid api-key");
      if (url === "/collections" && req.method === "GET")
        return send(200, { result: { collections: [...state.collections!.keys()].map((name) => ({ name })) }, status: "ok" });
      const m = /^\/collections\/([^/]+)(\/points\/count)?$/.exec(url);
      if (!m) return error(404, `Not found: ${url}`);
      const [name, count] = [m[1], m[2]];
      const c = state.collections!.get(name);
      const missing = () => error(404, `Not found: Collection \`${name}\` doesn't exist!`);
      if (count && req.method === "POST") return c ? send(200, { result: { count: c.points }, status: "ok" }) : missing();
      if (req.method === "GET") {
        if (!c) return missing();
        return send(200, {
          result: { status: "green", points_count: c.points, config: { params: { vectors: { size: c.size, distance: c.distance } } } },
          status: "ok",
        });
      }
      if (req.method === "PUT") {
        if (c) return error(409, `Wrong input: Collection \`${name}\` already exists!`);
        const body = JSON.parse(raw || "{}");
        state.collections!.set(name, { size: body.vectors?.size, distance: body.vectors?.distance, points: 0 });
        return send(200, { result: true, status: "ok" });
      }
      if (req.method === "DELETE") {
        state.collections!.delete(name);
        return send(200, { result: c !== undefined, status: "ok" });
      }
      error(405, "unsupported operation");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return Object.assign(state as FakeQdrant, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
