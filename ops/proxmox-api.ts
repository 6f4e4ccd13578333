// A small client of the Proxmox VE REST API for the operator commands (`dualstack backup`, the drill): API token
// authentication, the node's certificate verified (a CA file, or the system's roots unless the stack says
// insecure), asynchronous tasks awaited. Errors name the call and Proxmox's message, never the token.
import { tlsFetch } from "./tls-fetch";

export class ProxmoxApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface ProxmoxApiOptions {
  /** "https://192.168.10.2:8006/" (the stack's proxmox.endpoint). */
  endpoint: string;
  /** "user@realm!name=secret". */
  token: string;
  /** PEM of the CA the node's certificate chains to; the system's roots when absent. */
  caCert?: string;
  insecure?: boolean;
  /** How long a task may run before the call gives up (the task goes on in Proxmox). */
  taskTimeoutSeconds?: number;
  /** The longest wait between two polls of a task (they start at 250 ms and double). */
  pollMilliseconds?: number;
}

export const TOKEN_FORM = /^[^@\s]+@[^!\s]+![^=\s]+=\S+$/;

export interface ProxmoxBackup {
  volid: string;
  vmid: number;
  /** Seconds since the epoch. */
  ctime: number;
  protected: boolean;
}

export class ProxmoxApi {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly o: ProxmoxApiOptions) {
    if (!/^https:\/\/[^\s/]+\/?$/.test(o.endpoint))
      throw new ProxmoxApiError(`proxmox endpoint: expected "https://host:8006/", got ${JSON.stringify(o.endpoint)}`, 0);
    if (!TOKEN_FORM.test(o.token)) throw new ProxmoxApiError("proxmox token: expected user@realm!name=secret", 0);
    this.base = `${o.endpoint.replace(/\/$/, "")}/api2/json`;
    this.fetch = tlsFetch({ ca: o.caCert, insecure: o.insecure });
  }

  /** One API call; a list parameter is sent as the key repeated (the agent's exec command). */
  async call<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, params: Record<string, string | number | string[]> = {}): Promise<T> {
    const query = new URLSearchParams(
      Object.entries(params).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, String(v)]])),
    );
    const inBody = method === "POST" || method === "PUT";
    const url = `${this.base}${path}${!inBody && query.size ? `?${query}` : ""}`;
    let res;
    try {
      res = await this.fetch(url, {
        method,
        headers: { Authorization: `PVEAPIToken=${this.o.token}`, ...(inBody ? { "Content-Type": "application/x-www-form-urlencoded" } : {}) },
        body: inBody ? query.toString() : undefined,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ProxmoxApiError(`${method} ${path}: cannot reach ${this.o.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message})`, 0);
    }
    const text = await res.text();
    if (!res.ok) {
      // Proxmox puts the reason in the status text, or in {errors} for parameter errors.
      let detail = res.statusText;
      try {
        const body = JSON.parse(text) as { message?: string; errors?: Record<string, string> };
        detail = body.errors
          ? Object.entries(body.errors)
              .map(([k, v]) => `${k}: ${v.trim()}`)
              .join("; ")
          : (body.message ?? detail).trim();
      } catch {
        /* not JSON */
      }
      throw new ProxmoxApiError(`${method} ${path}: ${res.status} ${detail}`, res.status);
    }
    return (JSON.parse(text) as { data: T }).data;
  }

  /** Waits for a task (its UPID) to stop; throws with its exit status unless it is OK. */
  async waitTask(node: string, upid: string, onProgress?: (line: string) => void): Promise<void> {
    const deadline = Date.now() + (this.o.taskTimeoutSeconds ?? 6 * 3600) * 1000;
    for (let poll = 0; ; poll++) {
      const s = await this.call<{ status: string; exitstatus?: string }>("GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
      if (s.status === "stopped") {
        if (s.exitstatus !== "OK") throw new ProxmoxApiError(`task ${upid} failed: ${s.exitstatus ?? "no exit status"}`, 0);
        return;
      }
      if (Date.now() > deadline)
        throw new ProxmoxApiError(`task ${upid} still running after ${this.o.taskTimeoutSeconds ?? 6 * 3600} s (it goes on in Proxmox)`, 0);
      onProgress?.(`  task ${upid.split(":").slice(5, 7).join(" ")} running`);
      // Short tasks are seen finished soon; long ones (a VM's backup) are asked every few seconds.
      await new Promise((r) => setTimeout(r, Math.min(this.o.pollMilliseconds ?? 5000, 250 * 2 ** poll)));
    }
  }

  /** The backups of one guest in a backup storage, newest first. */
  async backups(node: string, storage: string, vmid: number): Promise<ProxmoxBackup[]> {
    const items = await this.call<{ volid: string; vmid?: number; ctime: number; protected?: number | boolean }[]>(
      "GET",
      `/nodes/${node}/storage/${storage}/content`,
      { content: "backup", vmid },
    );
    return items
      .filter((b) => Number(b.vmid) === vmid)
      .map((b) => ({ volid: b.volid, vmid, ctime: Number(b.ctime), protected: Boolean(Number(b.protected ?? 0)) }))
      .sort((a, b) => b.ctime - a.ctime);
  }

  /** vzdump of one guest to `storage`, marked protected (pruning never removes it); the new backup. */
  async protectedBackup(node: string, storage: string, vmid: number, notes: string, onProgress?: (line: string) => void): Promise<ProxmoxBackup> {
    const started = Math.floor(Date.now() / 1000);
    const upid = await this.call<string>("POST", `/nodes/${node}/vzdump`, {
      vmid,
      storage,
      mode: "snapshot",
      protected: 1,
      "notes-template": notes,
      remove: 0,
    });
    await this.waitTask(node, upid, onProgress);
    const fresh = (await this.backups(node, storage, vmid)).find((b) => b.ctime >= started - 60);
    if (!fresh) throw new ProxmoxApiError(`vzdump of ${vmid} finished but no new backup is listed in ${storage}`, 0);
    return fresh;
  }

  /** Whether a guest exists (its config is readable). */
  async exists(node: string, kind: GuestKind, vmid: number): Promise<boolean> {
    try {
      await this.call("GET", `/nodes/${node}/${kind}/${vmid}/status/current`);
      return true;
    } catch (err) {
      if (err instanceof ProxmoxApiError && err.status === 500 && /does not exist/.test(err.message)) return false;
      throw err;
    }
  }

  /**
   * Restores a backup into `vmid` (which must not exist), its disks on `storage`; with `into`, as a copy in that
   * pool with new MAC addresses (unique=1).
   */
  async restore(
    node: string,
    kind: GuestKind,
    vmid: number,
    volid: string,
    storage: string,
    onProgress?: (line: string) => void,
    into?: { pool: string },
  ): Promise<void> {
    const copy: Record<string, string | number> = into ? { pool: into.pool, unique: 1 } : {};
    const upid =
      kind === "qemu"
        ? await this.call<string>("POST", `/nodes/${node}/qemu`, { vmid, archive: volid, storage, unique: 0, ...copy })
        : await this.call<string>("POST", `/nodes/${node}/lxc`, { vmid, ostemplate: volid, restore: 1, storage, ...copy, unprivileged: 1 });
    await this.waitTask(node, upid, onProgress);
  }

  /** Whether a guest anywhere in the cluster has this VMID (the API's own check: /cluster/nextid refuses a used one). */
  async vmIdTaken(vmid: number): Promise<boolean> {
    try {
      await this.call("GET", "/cluster/nextid", { vmid });
      return false;
    } catch (err) {
      if (err instanceof ProxmoxApiError && err.status === 400 && /already exists/.test(err.message)) return true;
      throw err;
    }
  }

  /**
   * Restores a backup into a new VMID in `pool` (new MAC addresses: unique=1), then cuts the copy off: its network
   * and passthrough devices removed, protection and start at boot off. Not started.
   */
  async restoreScratch(node: string, kind: GuestKind, vmid: number, volid: string, storage: string, pool: string, onProgress?: (line: string) => void) {
    await this.restore(node, kind, vmid, volid, storage, onProgress, { pool });
    // Its network, passthrough and USB devices, by their config keys (net0, hostpci0, usb0…).
    const devices = async () => Object.keys(await this.config(node, kind, vmid)).filter((k) => /^(net|hostpci|usb)\d+$/.test(k));
    const found = await devices();
    await this.call("PUT", `/nodes/${node}/${kind}/${vmid}/config`, { ...(found.length ? { delete: found.join(",") } : {}), protection: 0, onboot: 0 });
    const left = await devices();
    if (left.length) throw new ProxmoxApiError(`scratch guest ${vmid} still has ${left.join(", ")} after they were removed`, 0);
  }

  /** A guest's current configuration (its keys as Proxmox names them: scsi1, net0, protection…). */
  async config(node: string, kind: GuestKind, vmid: number): Promise<Record<string, unknown>> {
    return this.call<Record<string, unknown>>("GET", `/nodes/${node}/${kind}/${vmid}/config`);
  }

  /** Sets a guest's protection flag (Proxmox refuses to delete a protected guest or its disks). */
  async setProtection(node: string, kind: GuestKind, vmid: number, on: boolean): Promise<void> {
    await this.call("PUT", `/nodes/${node}/${kind}/${vmid}/config`, { protection: on ? 1 : 0 });
  }

  /** Starts a guest and waits for its start task; a VM with `waitAgent` until its guest agent answers too. */
  async start(node: string, kind: GuestKind, vmid: number, waitAgentSeconds?: number, onProgress?: (line: string) => void): Promise<void> {
    await this.waitTask(node, await this.call<string>("POST", `/nodes/${node}/${kind}/${vmid}/status/start`), onProgress);
    if (kind !== "qemu" || waitAgentSeconds === undefined) return;
    const deadline = Date.now() + waitAgentSeconds * 1000;
    for (;;) {
      try {
        await this.call("POST", `/nodes/${node}/qemu/${vmid}/agent/ping`);
        return;
      } catch (err) {
        if (!(err instanceof ProxmoxApiError) || err.status !== 500) throw err;
        if (Date.now() > deadline) throw new ProxmoxApiError(`the guest agent of ${vmid} did not answer within ${waitAgentSeconds} s of its start`, 0);
      }
      await new Promise((r) => setTimeout(r, Math.min(this.o.pollMilliseconds ?? 5000, 2000)));
    }
  }

  /** Runs a command in a VM through its guest agent: its exit code and output. */
  async agentExec(node: string, vmid: number, command: string[], timeoutSeconds = 600): Promise<{ exitcode: number; out: string; err: string }> {
    const { pid } = await this.call<{ pid: number }>("POST", `/nodes/${node}/qemu/${vmid}/agent/exec`, { command });
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (let poll = 0; ; poll++) {
      const s = await this.call<{ exited: number | boolean; exitcode?: number; "out-data"?: string; "err-data"?: string }>(
        "GET",
        `/nodes/${node}/qemu/${vmid}/agent/exec-status`,
        { pid },
      );
      if (Number(s.exited) === 1) return { exitcode: s.exitcode ?? -1, out: s["out-data"] ?? "", err: s["err-data"] ?? "" };
      if (Date.now() > deadline) throw new ProxmoxApiError(`${command[0]} in ${vmid} still running after ${timeoutSeconds} s`, 0);
      await new Promise((r) => setTimeout(r, Math.min(this.o.pollMilliseconds ?? 5000, 250 * 2 ** poll)));
    }
  }

  /** Whether the guest is a member of `pool`. */
  async inPool(pool: string, vmid: number): Promise<boolean> {
    const p = await this.call<{ members?: { vmid?: number }[] }>("GET", `/pools/${encodeURIComponent(pool)}`);
    return (p.members ?? []).some((m) => Number(m.vmid) === vmid);
  }

  /** Stops and deletes a scratch guest with its disks: only one in `pool`, never another guest. */
  async destroyScratch(node: string, kind: GuestKind, vmid: number, pool: string, onProgress?: (line: string) => void): Promise<void> {
    if (!(await this.inPool(pool, vmid)))
      throw new ProxmoxApiError(`guest ${vmid} is not in the drill pool ${pool}: it is not a scratch guest, and is left alone`, 0);
    const { status } = await this.call<{ status: string }>("GET", `/nodes/${node}/${kind}/${vmid}/status/current`);
    if (status === "running") await this.waitTask(node, await this.call<string>("POST", `/nodes/${node}/${kind}/${vmid}/status/stop`), onProgress);
    await this.waitTask(node, await this.call<string>("DELETE", `/nodes/${node}/${kind}/${vmid}`, { purge: 1, "destroy-unreferenced-disks": 1 }), onProgress);
  }
}

export type GuestKind = "qemu" | "lxc";
