// One JSON request over HTTP(S) for the dynamic providers that speak a server's REST API (Vault, Qdrant). Node's own
// http/https, required inside the function so that a serialised provider carries no module state; an optional CA
// (the platform CA) for servers with private certificates; a timeout. Errors name the place given by the caller and
// the connection failure, never the headers (they hold tokens) or the body.

export interface JsonResponse<T> {
  status: number;
  body: T;
}

export interface JsonRequest {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: unknown;
  caCert?: string;
  /** What the request is for, for errors: "Vault GET kv-public/x at https://…". */
  where: string;
  /** The server's name for errors: "cannot reach Vault". */
  server: string;
  timeoutMs?: number;
}

export async function requestJson<T = Record<string, unknown>>(r: JsonRequest): Promise<JsonResponse<T>> {
  const url = new URL(r.url);
  const transport = (url.protocol === "https:" ? require("node:https") : require("node:http")) as typeof import("node:https");
  const payload = r.body === undefined ? undefined : JSON.stringify(r.body);
  const timeout = r.timeoutMs ?? 30_000;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: r.method,
        headers: { "Content-Type": "application/json", ...(r.headers ?? {}), ...(payload ? { "Content-Length": String(Buffer.byteLength(payload)) } : {}) },
        ...(r.caCert ? { ca: r.caCert } : {}),
        timeout,
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: data }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeout / 1000} s`)));
    req.on("error", (err: NodeJS.ErrnoException) => reject(new Error(`${r.where}: cannot reach ${r.server} (${err.code ?? err.message})`)));
    if (payload) req.write(payload);
    req.end();
  });
  let body: T;
  try {
    body = text ? JSON.parse(text) : ({} as T);
  } catch {
    body = {} as T;
  }
  return { status, body };
}
