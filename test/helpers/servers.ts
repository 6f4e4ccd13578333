// Real PostgreSQL and Redis servers for the tests, started on loopback with random ports in temporary directories
// and removed afterwards. Debian's packages: postgresql (initdb runs as the postgres user) and redis-server.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { accepts, startProcess, tool } from "./process";

export async function freePort(below?: number): Promise<number> {
  // Below `below` when given (a random one of 20000 and up: apt-cacher-ng 3.7 cannot bind a port above 32767).
  for (let attempt = 0; ; attempt++) {
    const wanted = below === undefined ? 0 : 20_000 + Math.floor(Math.random() * (below - 20_000));
    const port = await new Promise<number | undefined>((resolve) => {
      const s = createServer();
      s.on("error", () => resolve(undefined));
      s.listen(wanted, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    if (port !== undefined) return port;
    if (attempt > 50) throw new Error("freePort: no free port found");
  }
}

/** A PostgreSQL server program (initdb, pg_ctl, psql…) of the newest version installed. */
export function pgBin(program: string): string {
  return join(dirname(tool("initdb")), program);
}

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): void;
}

/** A directory owned by the postgres user, to hold a data directory that outlives one server (PostgresOptions.data). */
export function postgresVolume(): string {
  const dir = mkdtempSync(join(tmpdir(), "pg-volume-"));
  chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), Number(execFileSync("id", ["-g", "postgres"]).toString().trim()));
  chmodSync(dir, 0o700);
  return dir;
}

export interface PostgresOptions {
  /**
   * A data directory that outlives the server, as a container's volume does: initialised with `password` only when
   * it holds no cluster yet (a first start), then started as it is, whatever password is given — the way Neo4j
   * reads NEO4J_AUTH only at its first start. `stop` leaves it in place.
   */
  data?: string;
  password?: string;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), "pg-"));
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const password = options.password ?? `admin-${Math.random().toString(36).slice(2)}`;
  const data = options.data ?? join(dir, "data");
  if (options.data !== undefined && !existsSync(dirname(data))) throw new Error(`startPostgres: ${dirname(data)} does not exist (postgresVolume makes one)`);
  const asPostgres = (program: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", pgBin(program), ...args], { stdio: "pipe", timeout: 90_000 });
  if (!existsSync(join(data, "PG_VERSION"))) {
    const pwfile = join(dir, "pw");
    writeFileSync(pwfile, password);
    chownSync(pwfile, uid, gid);
    asPostgres("initdb", ["-D", data, "-U", "admin", "-A", "scram-sha-256", `--pwfile=${pwfile}`, "--no-sync"]);
    rmSync(pwfile);
  }
  const port = await freePort();
  asPostgres("pg_ctl", ["-D", data, "-w", "-l", join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  return {
    host: "127.0.0.1",
    port,
    user: "admin",
    password,
    stop: () => {
      try {
        asPostgres("pg_ctl", ["-D", data, "-m", options.data ? "fast" : "immediate", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface Redis {
  host: string;
  port: number;
  password: string;
  /** The ACL file ACL SAVE writes to. */
  aclFile: string;
  /** With `tls`: the CA clients verify the server with (the server then has no plain-text port, as deployed). */
  caCert?: string;
  stop(): Promise<void>;
}

export async function startRedis(options: { tls?: { caCert: string; certPem: string; keyPem: string } } = {}): Promise<Redis> {
  const dir = mkdtempSync(join(tmpdir(), "redis-"));
  const port = await freePort();
  const password = `admin-${Math.random().toString(36).slice(2)}`;
  // As in the data LXC (lib/data-services.ts): an ACL file whose default user is the administrator.
  const aclFile = join(dir, "users.acl");
  writeFileSync(aclFile, `user default on sanitize-payload #${createHash("sha256").update(password).digest("hex")} ~* &* +@all\n`);
  const tls = options.tls;
  if (tls) {
    writeFileSync(join(dir, "server.crt"), tls.certPem);
    writeFileSync(join(dir, "server.key"), tls.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), tls.caCert);
  }
  const listen = tls
    ? [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        join(dir, "server.crt"),
        "--tls-key-file",
        join(dir, "server.key"),
        "--tls-ca-cert-file",
        join(dir, "ca.crt"),
        "--tls-auth-clients",
        "no",
      ]
    : ["--port", String(port)];
  const server = await startProcess(
    "redis-server",
    [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--aclfile", aclFile],
    { ready: () => accepts(port), readyTimeoutMs: 10_000 },
  );
  return {
    host: "127.0.0.1",
    port,
    password,
    aclFile,
    ...(tls ? { caCert: tls.caCert } : {}),
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
