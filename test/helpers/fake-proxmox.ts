// A stand-in for the parts of the Proxmox VE API the operator commands use (no real Proxmox runs here), over HTTPS
// with a certificate from a test CA: backup listing in a storage, vzdump (protected), tasks, guest status, restore, and
// the datacenter configuration of storages and backup jobs (what the proxmoxve provider creates and reads back).
// Behaviour follows the API documentation: UPIDs for asynchronous calls, 500 "does not exist" for a missing guest,
// 401 for a wrong token, {errors} for bad parameters.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { TestCa } from "./pki";

export interface FakeGuest {
  node: string;
  kind: "qemu" | "lxc";
  /** Its configuration as `GET …/config` returns it (net0, hostpci0, agent, protection, onboot…). */
  config?: Record<string, string>;
  /** What its disks hold, by path: what its guest agent's commands see once it runs. */
  files?: Record<string, string>;
  status?: "running" | "stopped";
}

export interface FakeBackup {
  volid: string;
  vmid: number;
  ctime: number;
  protected: number;
  storage: string;
  /** The guest as it was backed up: what a restore brings back. */
  guest?: FakeGuest;
}

export interface FakeProxmox {
  url: string;
  token: string;
  guests: Map<number, FakeGuest>;
  backups: FakeBackup[];
  log: string[];
  /** vzdump of these VMIDs fails (the task ends with an error). */
  failBackupOf: Set<number>;
  /** A restore of these VMIDs' backups fails (the task ends with an error; Proxmox removes what it had restored). */
  failRestoreOf: Set<number>;
  /** Resource pools, with their members' VMIDs. */
  pools: Map<string, Set<number>>;
  /** The parameters of every POST and PUT, in order. */
  forms: { call: string; params: Record<string, string> }[];
  /** Each guest's configuration at the moment it was started. */
  starts: { vmid: number; config: Record<string, string> }[];
  /** Storages by id, as their parameters were posted (the password is never kept, as Proxmox keeps it apart). */
  storages: Map<string, Record<string, string>>;
  /** Backup jobs by id. */
  backupJobs: Map<string, Record<string, string>>;
  /**
   * What a guest's agent answers to a command other than sha256sum (the guest's own programs); undefined, or no
   * answer: the program is not there (exit 127, as bash says). Every command asked, in order, in `agentCommands`.
   */
  agentExec?: (vmid: number, command: string[]) => { exitcode: number; out?: string; err?: string } | undefined;
  agentCommands: { vmid: number; command: string[] }[];
  close(): Promise<void>;
}

export async function startFakeProxmox(ca: TestCa, guests: Record<number, FakeGuest>): Promise<FakeProxmox> {
  const cert = ca.issue("proxmox", { ip: ["127.0.0.1"] });
  const token = "root@pam!drill=6f1c2b7e-0000-4000-8000-000000000001";
  const tasks = new Map<string, { polls: number; exitstatus: string; then: () => void }>();
  let seq = 0;
  const agentRuns = new Map<number, Record<string, unknown>>();
  const state = {
    guests: new Map(Object.entries(guests).map(([k, v]) => [Number(k), v])),
    backups: [] as FakeBackup[],
    log: [] as string[],
    failBackupOf: new Set<number>(),
    failRestoreOf: new Set<number>(),
    pools: new Map<string, Set<number>>(),
    forms: [] as { call: string; params: Record<string, string> }[],
    starts: [] as { vmid: number; config: Record<string, string> }[],
    storages: new Map<string, Record<string, string>>(),
    backupJobs: new Map<string, Record<string, string>>(),
    agentExec: undefined as FakeProxmox["agentExec"],
    agentCommands: [] as { vmid: number; command: string[] }[],
  };
  const task = (node: string, type: string, id: number, exitstatus: string, then: () => void) => {
    const upid = `UPID:${node}:0000${(++seq).toString(16)}:00000000:${Math.floor(Date.now() / 1000)
      .toString(16)
      .toUpperCase()}:${type}:${id}:root@pam!drill:`;
    tasks.set(upid, { polls: 0, exitstatus, then });
    return upid;
  };
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const send = (status: number, body: unknown, statusText?: string) => {
        res.writeHead(status, statusText ?? "", { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? "/", "https://x");
      state.log.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.headers.authorization !== `PVEAPIToken=${token}`) return send(401, { data: null }, "authentication failure");
      const form = new URLSearchParams(raw);
      if (req.method === "POST" || req.method === "PUT") state.forms.push({ call: `${req.method} ${url.pathname}`, params: Object.fromEntries(form) });
      const p = url.pathname.replace(/^\/api2\/json/, "");
      let m: RegExpExecArray | null;
      if ((m = /^\/nodes\/([^/]+)\/storage\/([^/]+)\/content$/.exec(p)) && req.method === "GET") {
        const vmid = Number(url.searchParams.get("vmid"));
        return send(200, {
          data: state.backups
            .filter((b) => b.storage === m![2] && (!vmid || b.vmid === vmid))
            .map(({ storage: _s, ...b }) => ({ ...b, content: "backup", format: "pbs-vm" })),
        });
      }
      if ((m = /^\/nodes\/([^/]+)\/vzdump$/.exec(p)) && req.method === "POST") {
        const vmid = Number(form.get("vmid"));
        const storage = form.get("storage");
        if (!vmid || !storage)
          return send(400, {
            data: null,
            errors: {
              ...(vmid ? {} : { vmid: "property is missing and it is not optional" }),
              ...(storage ? {} : { storage: "property is missing and it is not optional" }),
            },
          });
        const node = m[1];
        const fails = state.failBackupOf.has(vmid) || !state.guests.has(vmid);
        return send(200, {
          data: task(node, "vzdump", vmid, fails ? "job errors" : "OK", () => {
            if (fails) return;
            const ctime = Math.floor(Date.now() / 1000);
            state.backups.push({
              volid: `${storage}:backup/${state.guests.get(vmid)!.kind === "qemu" ? "vm" : "ct"}/${vmid}/${new Date(ctime * 1000).toISOString().replace(/\.\d+Z$/, "Z")}`,
              vmid,
              ctime,
              protected: Number(form.get("protected") ?? 0),
              storage,
              guest: structuredClone(state.guests.get(vmid)),
            });
          }),
        });
      }
      if ((m = /^\/nodes\/([^/]+)\/tasks\/([^/]+)\/status$/.exec(p)) && req.method === "GET") {
        const t = tasks.get(decodeURIComponent(m[2]));
        if (!t) return send(500, { data: null }, "no such task");
        // Running on the first poll, stopped on the second.
        if (t.polls++ === 0) return send(200, { data: { status: "running" } });
        if (t.polls === 2) t.then();
        return send(200, { data: { status: "stopped", exitstatus: t.exitstatus } });
      }
      if ((m = /^\/nodes\/([^/]+)\/(qemu|lxc)\/(\d+)\/status\/current$/.exec(p)) && req.method === "GET") {
        const vmid = Number(m[3]);
        const g = state.guests.get(vmid);
        if (!g || g.kind !== m[2])
          return send(500, { data: null }, `Configuration file 'nodes/${m[1]}/${m[2] === "qemu" ? "qemu-server" : "lxc"}/${vmid}.conf' does not exist`);
        return send(200, { data: { vmid, status: g.status ?? "running" } });
      }
      if ((m = /^\/nodes\/([^/]+)\/(qemu|lxc)$/.exec(p)) && req.method === "POST") {
        const vmid = Number(form.get("vmid"));
        const archive = form.get(m[2] === "qemu" ? "archive" : "ostemplate");
        if (state.guests.has(vmid)) return send(500, { data: null }, `unable to restore VM ${vmid} - VM ${vmid} already exists on node '${m[1]}'`);
        const backup = state.backups.find((b) => b.volid === archive);
        if (!backup) return send(500, { data: null }, `volume '${archive}' does not exist`);
        const pool = form.get("pool");
        if (pool && !state.pools.has(pool)) return send(500, { data: null }, `pool '${pool}' does not exist`);
        const node = m[1];
        const kind = m[2] as "qemu" | "lxc";
        const fails = state.failRestoreOf.has(backup.vmid);
        return send(200, {
          data: task(node, kind === "qemu" ? "qmrestore" : "vzrestore", vmid, fails ? "restore failed: chunk not found" : "OK", () => {
            if (fails) return;
            const copy: FakeGuest = structuredClone(backup.guest) ?? { node, kind };
            copy.node = node;
            copy.status = "stopped";
            // unique=1: every NIC gets a new MAC address.
            if (form.get("unique") === "1")
              for (const [k, v] of Object.entries(copy.config ?? {}))
                if (/^net\d+$/.test(k))
                  copy.config![k] = v.replace(/([0-9A-F]{2}:){5}[0-9A-F]{2}/i, `BC:24:11:00:00:${(vmid % 256).toString(16).padStart(2, "0").toUpperCase()}`);
            state.guests.set(vmid, copy);
            if (pool) state.pools.get(pool)!.add(vmid);
          }),
        });
      }
      if ((m = /^\/cluster\/nextid$/.exec(p)) && req.method === "GET") {
        const vmid = Number(url.searchParams.get("vmid"));
        if (state.guests.has(vmid)) return send(400, { data: null, errors: { vmid: `VM ${vmid} already exists` } });
        return send(200, { data: String(vmid) });
      }
      if ((m = /^\/pools\/([^/]+)$/.exec(p)) && req.method === "GET") {
        const members = state.pools.get(decodeURIComponent(m[1]));
        if (!members) return send(500, { data: null }, `pool '${decodeURIComponent(m[1])}' does not exist`);
        return send(200, {
          data: {
            members: [...members].map((vmid) => ({
              vmid,
              id: `${state.guests.get(vmid)?.kind ?? "qemu"}/${vmid}`,
              type: state.guests.get(vmid)?.kind ?? "qemu",
            })),
          },
        });
      }
      if ((m = /^\/nodes\/([^/]+)\/(qemu|lxc)\/(\d+)(\/.*)?$/.exec(p))) {
        const vmid = Number(m[3]);
        const g = state.guests.get(vmid);
        const what = m[4] ?? "";
        if (!g || g.kind !== m[2])
          return send(500, { data: null }, `Configuration file 'nodes/${m[1]}/${m[2] === "qemu" ? "qemu-server" : "lxc"}/${vmid}.conf' does not exist`);
        const config = (g.config ??= {});
        if (what === "/config" && req.method === "GET") return send(200, { data: { ...config, digest: "0123456789abcdef" } });
        if (what === "/config" && req.method === "PUT") {
          const changes = Object.fromEntries(form);
          for (const k of (changes.delete ?? "").split(",").filter(Boolean)) delete config[k];
          delete changes.delete;
          Object.assign(config, changes);
          return send(200, { data: null });
        }
        if (what === "/status/start" && req.method === "POST") {
          // A passthrough device in use by a running guest cannot be given to a second one.
          const device = Object.entries(config).find(([k]) => /^hostpci\d+$/.test(k))?.[1];
          const holder = [...state.guests].find(
            ([id, o]) => id !== vmid && o.status !== "stopped" && Object.entries(o.config ?? {}).some(([k, v]) => /^hostpci\d+$/.test(k) && v === device),
          );
          const fails = device !== undefined && holder !== undefined;
          return send(200, {
            data: task(
              m[1],
              m[2] === "qemu" ? "qmstart" : "vzstart",
              vmid,
              fails ? `PCI device '${device}' already in use by VMID '${holder![0]}'` : "OK",
              () => {
                if (fails) return;
                g.status = "running";
                state.starts.push({ vmid, config: { ...config } });
              },
            ),
          });
        }
        if (what === "/status/stop" && req.method === "POST")
          return send(200, { data: task(m[1], m[2] === "qemu" ? "qmstop" : "vzstop", vmid, "OK", () => (g.status = "stopped")) });
        if (what.startsWith("/agent/")) {
          if (g.kind !== "qemu" || g.status === "stopped" || !/^(1|enabled=1)/.test(config.agent ?? ""))
            return send(500, { data: null }, "QEMU guest agent is not running");
          if (what === "/agent/ping" && req.method === "POST") return send(200, { data: null });
          if (what === "/agent/exec" && req.method === "POST") {
            const command = form.getAll("command");
            const pid = ++seq;
            state.agentCommands.push({ vmid, command });
            const answer = command[0] === "sha256sum" ? undefined : state.agentExec?.(vmid, command);
            if (answer) {
              agentRuns.set(pid, { exited: 1, exitcode: answer.exitcode, "out-data": answer.out ?? "", "err-data": answer.err ?? "" });
            } else if (command[0] !== "sha256sum") {
              agentRuns.set(pid, { exited: 1, exitcode: 127, "err-data": `${command.join(" ")}: No such file or directory\n` });
            } else {
              const paths = command.slice(1).filter((a) => a !== "--");
              const files = g.files ?? {};
              const out = paths.filter((f) => f in files).map((f) => `${createHash("sha256").update(files[f]).digest("hex")}  ${f}\n`);
              const err = paths.filter((f) => !(f in files)).map((f) => `sha256sum: ${f}: No such file or directory\n`);
              agentRuns.set(pid, { exited: 1, exitcode: err.length ? 1 : 0, "out-data": out.join(""), "err-data": err.join("") });
            }
            return send(200, { data: { pid } });
          }
          if (what === "/agent/exec-status" && req.method === "GET") {
            const run = agentRuns.get(Number(url.searchParams.get("pid")));
            if (!run) return send(500, { data: null }, "Agent error: Invalid parameter 'pid'");
            return send(200, { data: run });
          }
        }
        if (what === "" && req.method === "DELETE") {
          if (g.status !== "stopped") return send(500, { data: null }, `VM ${vmid} is running - destroy failed`);
          if (config.protection === "1") return send(500, { data: null }, `can't remove VM ${vmid} - protection mode enabled`);
          return send(200, {
            data: task(m[1], m[2] === "qemu" ? "qmdestroy" : "vzdestroy", vmid, "OK", () => {
              state.guests.delete(vmid);
              for (const members of state.pools.values()) members.delete(vmid);
            }),
          });
        }
      }
      // Datacenter configuration kept as key/value sections (/etc/pve/storage.cfg, /etc/pve/jobs.cfg): storages by
      // their "storage" parameter, backup jobs by their "id". GET returns what was stored, numbers and 0/1 flags as
      // JSON numbers as the API does; PUT merges and removes the keys its "delete" names; a missing one is a 500.
      if ((m = /^\/(storage|cluster\/backup)(?:\/([^/]+))?\/?$/.exec(p))) {
        const section = m[1] === "storage" ? state.storages : state.backupJobs;
        const key = m[1] === "storage" ? "storage" : "id";
        const what = m[1] === "storage" ? "storage" : "backup job";
        const id = m[2] ? decodeURIComponent(m[2]) : undefined;
        const scalar = (k: string, v: string) => (/^-?\d+$/.test(v) && !["fingerprint", "schedule"].includes(k) ? Number(v) : v);
        // A job's property strings (fleecing, performance) come back parsed into objects, as the API returns them.
        const parsed = m[1] === "storage" ? [] : ["fleecing", "performance"];
        const typed = (entries: Record<string, string>) =>
          Object.fromEntries(
            Object.entries(entries).map(([k, v]) => [
              k,
              parsed.includes(k)
                ? Object.fromEntries(v.split(",").map((kv) => [kv.split("=")[0], scalar(kv.split("=")[0], kv.split("=").slice(1).join("="))]))
                : scalar(k, v),
            ]),
          );
        if (!id && req.method === "GET") return send(200, { data: [...section.values()].map(typed) });
        if (!id && req.method === "POST") {
          const entry = Object.fromEntries(form);
          const name = entry[key];
          if (!name) return send(400, { data: null, errors: { [key]: "property is missing and it is not optional" } });
          if (section.has(name)) return send(500, { data: null }, `${what} ID '${name}' already defined`);
          // PBS with encryption-key=autogen: Proxmox generates a key and returns it once, in the create response.
          let config: Record<string, string> = {};
          if (entry["encryption-key"] === "autogen") {
            const key = JSON.stringify({
              kdf: null,
              created: new Date().toISOString(),
              modified: new Date().toISOString(),
              data: "ZmFrZS1rZXk=",
              fingerprint: "aa:bb:cc:dd",
            });
            entry["encryption-key"] = key;
            config = { "encryption-key": key };
          }
          delete entry.password;
          section.set(name, entry);
          return send(200, { data: m[1] === "storage" ? { storage: name, type: entry.type, config } : null });
        }
        if (!id) return send(501, { data: null }, `Method '${req.method} ${p}' not implemented`);
        const entry = section.get(id);
        if (!entry) return send(500, { data: null }, `${what} '${id}' does not exist`);
        if (req.method === "GET") return send(200, { data: typed(entry) });
        if (req.method === "PUT") {
          const changes = Object.fromEntries(form);
          for (const k of (changes.delete ?? "").split(",").filter(Boolean)) delete entry[k];
          delete changes.delete;
          delete changes.password;
          Object.assign(entry, changes);
          return send(200, { data: null });
        }
        if (req.method === "DELETE") {
          section.delete(id);
          return send(200, { data: null });
        }
      }
      send(501, { data: null }, `Method '${req.method} ${p}' not implemented`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return Object.assign(state, {
    url: `https://127.0.0.1:${port}/`,
    token,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
