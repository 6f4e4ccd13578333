// The real-guest testbed: Debian VMs under QEMU (software emulation: this machine's /dev/kvm boots no guest) from the
// image scripts/guest-image.sh builds, with a NoCloud seed of the program's own user-data, the data disk at the SCSI
// by-id path Proxmox gives it, and a user-mode network of their own: `restrict=on`, so a guest reaches nothing but
// what is forwarded — SSH, node exporter and the guest agent's channel from the host's loopback, and the package
// cache (apt-cacher-ng on the host's loopback, fetching from the Debian archive the host's apt uses) at the address
// the user-data names. No guest connects anywhere else.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/config";
import { freePort } from "../helpers/servers";
export { freePort };
import { accepts, run, startProcess, type RunResult, type Started } from "../helpers/process";

/** The guest's own address on its user-mode network (QEMU's default): what its services are configured to listen on. */
export const GUEST_ADDRESS = "10.0.2.15";

/** Where a guest finds the package cache: an address of the user-mode network, forwarded to the host's cache. */
export const CACHE_ADDRESS = "10.0.2.100";
export const CACHE_PORT = 3142;
export const APT_PROXY = `http://${CACHE_ADDRESS}:${CACHE_PORT}`;

const cacheRoot = () => process.env.AI_DUALSTACK_CACHE ?? join(homedir(), ".cache", "ai-dualstack");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The testbed's disk image (built and cached by scripts/guest-image.sh, about 1.5 min the first time). */
export async function guestImage(): Promise<{ disk: string; kernel: string; initrd: string }> {
  const r = await run("bash", [join(ROOT, "scripts", "guest-image.sh")], { timeoutMs: 15 * 60_000 });
  if (r.code !== 0) throw new Error(`scripts/guest-image.sh failed (exit ${r.code}):\n${r.all.slice(-3000)}`);
  const dir = r.stdout.trim().split("\n").pop()!;
  return { disk: join(dir, "disk.qcow2"), kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
}

export interface PackageCache {
  port: number;
  /** The requests it served (its log), to show where the guests' packages came from. */
  log(): string;
  /** Whether it served a .deb of `pkg` (from the archive or its security updates). */
  served(pkg: string): boolean;
  stop(): Promise<void>;
}

/**
 * apt-cacher-ng on the host's loopback with the program's configuration of the packages container (lib/package-cache.ts),
 * its cache kept under ~/.cache/ai-dualstack/apt-cacher-ng (a warm run fetches nothing twice). It fetches from the
 * Debian archive as the host's apt does.
 */
export async function startPackageCache(dir: string, programFiles: Record<string, string>): Promise<PackageCache> {
  // apt-cacher-ng 3.7 fails to bind a port above 32767 ("Error resolving address for binding").
  const port = await freePort(32_768);
  const cacheDir = join(cacheRoot(), "apt-cacher-ng");
  const confDir = join(dir, "apt-cacher-ng");
  const logDir = join(dir, "apt-cacher-ng-log");
  for (const d of [cacheDir, confDir, logDir]) mkdirSync(d, { recursive: true });
  // What the packages container has: the package's own configuration (its acng.conf holds the Debian remaps), then
  // the program's files, then only what a test on the host must change (the port, where cache and log go).
  const packaged = "/etc/apt-cacher-ng";
  for (const file of readdirSync(packaged)) if (file.endsWith(".conf") || file.endsWith(".default")) copyFileSync(join(packaged, file), join(confDir, file));
  for (const [file, content] of Object.entries(programFiles)) writeFileSync(join(confDir, file), content);
  writeFileSync(join(confDir, "zzzz-testbed.conf"), [`Port: ${port}`, `CacheDir: ${cacheDir}`, `LogDir: ${logDir}`, "UnbufferLogs: 1", ""].join("\n"));
  const server = await startProcess("apt-cacher-ng", ["-c", confDir, "ForeGround=1"], { ready: () => accepts(port) });
  const log = () => {
    const file = join(logDir, "apt-cacher.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  };
  return {
    port,
    log,
    served: (pkg) => new RegExp(`/pool/(updates/)?main/[^|/]+/[^|/]+/${pkg.replace(/[.+]/g, "\\$&")}_[^|/]*\\.deb`).test(log()),
    stop: () => server.stop(),
  };
}

/** An SSH key pair made for the test; the public key goes into the user-data in place of the operators' keys. */
export async function testKey(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = join(dir, "id_testbed");
  if (!existsSync(privateKey)) {
    const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ai-dualstack-testbed", "-f", privateKey]);
    if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.all}`);
  }
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, "utf8").trim() };
}

export interface VmSpec {
  /** A directory of its own: overlay disk, seed, console log, sockets. */
  dir: string;
  instanceId: string;
  hostname: string;
  userData: string;
  /** The data disk (qcow2), made when absent: the same file across a reboot and a rebuild. */
  dataDisk: string;
  dataDiskGiB?: number;
  /** The host's package cache, reached by the guest at CACHE_ADDRESS:CACHE_PORT. */
  cachePort?: number;
  memoryMiB?: number;
  /** More forwards from the host's loopback: guest port → host port. */
  forwards?: Record<number, number>;
  /** Addresses the guest reaches on its network, each forwarded to a port on the host's loopback (another guest's). */
  guestForwards?: { address: string; port: number; hostPort: number }[];
}

export interface Vm {
  sshPort: number;
  nodeExporterPort: number;
  /** The guest agent's virtio-serial channel, a socket on the host. */
  agentSocket: string;
  /**
   * Runs a command over SSH (as `user`, default the program's admin), as the command provider does: the text is the
   * session's command, run by the user's login shell, with `input` on its standard input.
   */
  ssh(command: string, options?: { user?: string; extra?: string[]; timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** Copies a file of the host's to `remotePath` in the guest (scp, as `user`, default the program's admin). */
  upload(localPath: string, remotePath: string, options?: { user?: string }): Promise<void>;
  /** The end of the serial console. */
  console(): string;
  /** Powers the VM off (SIGTERM to QEMU) and waits for it to be gone. */
  stop(): Promise<void>;
}

export interface Booted extends Vm {
  /** Restarts QEMU on the same disks (a reboot the guest cannot skip), and waits for SSH. */
  restart(options: { user: string; timeoutMs?: number }): Promise<void>;
}

/** Boots a VM and resolves once QEMU runs (not once the guest is up: see waitForSsh and waitForFirstBoot). */
export async function bootVm(spec: VmSpec, image: { disk: string; kernel: string; initrd: string }, key: { privateKey: string }): Promise<Booted> {
  mkdirSync(spec.dir, { recursive: true });
  const root = join(spec.dir, "root.qcow2");
  const seedDir = join(spec.dir, "seed");
  mkdirSync(seedDir, { recursive: true });
  writeFileSync(join(seedDir, "user-data"), spec.userData);
  writeFileSync(join(seedDir, "meta-data"), `instance-id: ${spec.instanceId}\nlocal-hostname: ${spec.hostname}\n`);
  const seed = join(spec.dir, "seed.iso");
  await must(run("cloud-localds", [seed, join(seedDir, "user-data"), join(seedDir, "meta-data")]));
  if (!existsSync(root)) await must(run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image.disk, "-F", "qcow2", root]));
  if (!existsSync(spec.dataDisk)) await must(run("qemu-img", ["create", "-q", "-f", "qcow2", spec.dataDisk, `${spec.dataDiskGiB ?? 4}G`]));
  const sshPort = await freePort();
  const nodeExporterPort = await freePort();
  const agentSocket = join(spec.dir, "qga.sock");
  const consoleLog = join(spec.dir, "console.log");
  const forwards = [
    `hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    `hostfwd=tcp:127.0.0.1:${nodeExporterPort}-:9100`,
    ...Object.entries(spec.forwards ?? {}).map(([guest, hostPort]) => `hostfwd=tcp:127.0.0.1:${hostPort}-:${guest}`),
    ...[...(spec.cachePort ? [{ address: CACHE_ADDRESS, port: CACHE_PORT, hostPort: spec.cachePort }] : []), ...(spec.guestForwards ?? [])].map(
      (f) => `guestfwd=tcp:${f.address}:${f.port}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`,
    ),
  ];
  const args = [
    ...["-accel", "tcg", "-cpu", "max", "-m", String(spec.memoryMiB ?? 2048), "-smp", "2", "-nographic", "-no-reboot"],
    ...["-kernel", image.kernel, "-initrd", image.initrd, "-append", "root=LABEL=rootfs ro console=ttyS0"],
    ...["-drive", `file=${root},if=virtio,format=qcow2`, "-drive", `file=${seed},if=virtio,format=raw,readonly=on`],
    // The data disk as Proxmox attaches scsi1: the guest names it scsi-0QEMU_QEMU_HARDDISK_drive-scsi1.
    ...["-device", "virtio-scsi-pci,id=scsihw0", "-drive", `file=${spec.dataDisk},if=none,id=drive-scsi1,format=qcow2`],
    ...["-device", "scsi-hd,bus=scsihw0.0,channel=0,scsi-id=0,lun=1,drive=drive-scsi1,id=scsi1"],
    ...["-netdev", `user,id=net0,restrict=on,${forwards.join(",")}`, "-device", "virtio-net-pci,netdev=net0"],
    ...["-chardev", `socket,path=${agentSocket},server=on,wait=off,id=qga0`, "-device", "virtio-serial"],
    ...["-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"],
    ...["-serial", `file:${consoleLog}`, "-monitor", "none"],
  ];
  let qemu: Started = await startProcess("qemu-system-x86_64", args, { ready: async () => true, stopSignal: "SIGTERM" });
  const sshOptions = [
    ...["-i", key.privateKey, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
    ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
  ];
  const vm: Booted = {
    sshPort,
    nodeExporterPort,
    agentSocket,
    ssh: (command, options = {}) =>
      run("ssh", [...sshOptions, "-p", String(sshPort), ...(options.extra ?? []), `${options.user ?? "ops"}@127.0.0.1`, command], {
        timeoutMs: options.timeoutMs ?? 120_000,
        ...(options.input !== undefined ? { input: options.input } : {}),
      }),
    upload: async (localPath, remotePath, options = {}) => {
      await must(
        run("scp", [...sshOptions, "-q", "-P", String(sshPort), localPath, `${options.user ?? "ops"}@127.0.0.1:${remotePath}`], { timeoutMs: 10 * 60_000 }),
      );
    },
    console: () => (existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").slice(-4000) : ""),
    stop: () => qemu.stop(),
    restart: async ({ user, timeoutMs }) => {
      await vm.ssh("sudo systemctl poweroff", { user }).catch(() => undefined);
      // -no-reboot: QEMU exits when the guest powers off; give it a minute, then stop it.
      const deadline = Date.now() + 60_000;
      while (!qemu.ended() && Date.now() < deadline) await sleep(500);
      await qemu.stop();
      qemu = await startProcess("qemu-system-x86_64", args, { ready: async () => true, stopSignal: "SIGTERM" });
      await waitForSsh(vm, { user, timeoutMs });
    },
  };
  return vm;
}

async function must(p: Promise<RunResult>): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.all.slice(-2000));
  return r;
}

/** Waits until `user` logs in with the test key; the error carries the console's end. */
export async function waitForSsh(vm: Vm, options: { user: string; timeoutMs?: number }): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  for (;;) {
    const r = await vm.ssh("true", { user: options.user, timeoutMs: 30_000 }).catch((e: Error) => ({ code: 255, all: e.message }));
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`no SSH login as ${options.user} in time (last: ${r.all.trim()}); console:\n${vm.console()}`);
    await sleep(3000);
  }
}

/**
 * Waits until cloud-init's last stage is over (its boot-finished marker: `status --wait` can return before the final
 * stage ran) and returns `cloud-init status --long`.
 */
export async function waitForFirstBoot(vm: Vm, options: { user: string; timeoutMs?: number }): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
  await waitForSsh(vm, { user: options.user, timeoutMs: options.timeoutMs });
  for (;;) {
    const r = await vm.ssh("test -f /var/lib/cloud/instance/boot-finished && cloud-init status --long", { user: options.user, timeoutMs: 60_000 });
    if (r.code === 0 || (r.code === 1 && /status: error/.test(r.stdout)) || r.code === 2) return r.stdout;
    if (Date.now() > deadline) throw new Error(`cloud-init did not finish in time; console:\n${vm.console()}`);
    await sleep(5000);
  }
}

/** One command to the guest agent over its channel (QGA's JSON protocol), after a sync; its `return`. */
export function guestAgent(socket: string, execute: string, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const id = Math.floor(Math.random() * 1e9);
    let buffer = "";
    let synced = false;
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`the guest agent did not answer ${execute} in ${timeoutMs / 1000} s`))), timeoutMs);
    s.on("connect", () => s.write(`${JSON.stringify({ execute: "guest-sync", arguments: { id } })}\n`));
    s.on("data", (d) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { return?: unknown; error?: { desc: string } };
        if (!synced) {
          if (msg.return === id) {
            synced = true;
            s.write(`${JSON.stringify({ execute })}\n`);
          }
          continue;
        }
        clearTimeout(timer);
        s.destroy();
        if (msg.error) reject(new Error(`guest agent: ${execute}: ${msg.error.desc}`));
        else resolve(msg.return);
      }
    });
    s.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
}

/** What Proxmox gives a container made from its template: root, reached with the operators' key, and nothing else. */
export const lxcStandInUserData = (publicKey: string) => `#cloud-config
disable_root: false
ssh_pwauth: false
users: []
write_files:
  - { path: /root/.ssh/authorized_keys, permissions: "0600", content: "${publicKey}\\n" }
`;

/** Runs a script on a guest as the program's command resources do (root's session command, `input` on stdin). */
export async function asProgram(vm: Vm, script: string, input?: string): Promise<string> {
  const r = await vm.ssh(script, { user: "root", timeoutMs: 15 * 60_000, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.all.slice(-3000)}`);
  return r.stdout;
}
