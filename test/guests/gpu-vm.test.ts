// The GPU VM's first boot, for real: a Debian VM boots from the program's own user-data (the public stack's config
// with gpuVm.os debian-12 and gpuVm.nvidia false, the two config keys the testbed needs: its image is Debian and it
// has no GPU), installs its packages through the package cache, and is then rebooted and rebuilt on the same data disk.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, DATA_DEVICE, DATA_LABEL, DATA_MOUNT_POINT, dockerDaemonConfig, gpuVmUserDataInput, renderGpuVmUserData } from "../../lib/cloud-init";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { packageCacheFiles } from "../../lib/package-cache";
import { environmentSources } from "../../lib/backup/plan";
import { FIRST_BOOT_ID_FILE, renderFirstBootCheck } from "../../lib/first-boot";
import { firstBootProvider } from "../../components/providers/first-boot";
import { committedConfig, edit } from "../helpers/config";
import { APT_PROXY, bootVm, guestAgent, guestImage, startPackageCache, testKey, waitForFirstBoot, type Booted, type PackageCache } from "./testbed";

/** The public environment's config as the testbed deploys it: Debian 12, no GPU, the test's SSH key. */
function testbedConfig(publicKey: string): EnvironmentConfig {
  const raw = committedConfig("public");
  const gpuVm = JSON.parse(raw.values["ai-dualstack:gpuVm"]);
  delete gpuVm.nvidiaDriverPackage;
  const edited = edit(edit(raw, "gpuVm", [], { ...gpuVm, os: "debian-12", nvidia: false }), "sshKeys", [], [publicKey]);
  return loadConfig(edited).config as EnvironmentConfig;
}

const dir = mkdtempSync(join(tmpdir(), "guests-gpu-vm-"));
const dataDisk = join(dir, "data.qcow2");
let cache: PackageCache;
let vm: Booted;
let firstBoot: string;
let firstBootWait: { id: string; outs?: { bootId: string; waitedOn: string[] } };
let dataUuid: string;
let userData: string;
let key: { privateKey: string; publicKey: string };
let image: Awaited<ReturnType<typeof guestImage>>;

const boot = (generation: number) =>
  bootVm(
    {
      dir: join(dir, `vm-${generation}`),
      instanceId: `iid-public-gpu-${generation}`,
      hostname: "public-gpu",
      userData,
      dataDisk,
      dataDiskGiB: 4,
      cachePort: cache.port,
    },
    image,
    key,
  );

beforeAll(async () => {
  [image, key] = await Promise.all([guestImage(), testKey(dir)]);
  // The cache binds where the guests' forwarded connections arrive: the host's loopback.
  cache = await startPackageCache(dir, packageCacheFiles("127.0.0.1"));
  userData = renderGpuVmUserData(gpuVmUserDataInput(testbedConfig(key.publicKey), APT_PROXY));
  vm = await boot(1);
  // The program's own wait (the FirstBoot resource's provider), from the moment QEMU starts: the guest boots,
  // installs its packages through the cache, starts Docker.
  firstBootWait = await firstBootProvider.create!({
    host: "127.0.0.1",
    port: vm.sshPort,
    user: ADMIN_USER,
    privateKey: readFileSync(key.privateKey, "utf8"),
    check: renderFirstBootCheck({ expectReboot: false }),
    timeoutSeconds: 25 * 60,
    trigger: "testbed",
  });
  firstBoot = await waitForFirstBoot(vm, { user: ADMIN_USER });
});

afterAll(async () => {
  await vm?.stop();
  await cache?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sh = async (command: string, user = ADMIN_USER) => {
  const r = await vm.ssh(command, { user });
  if (r.code !== 0) throw new Error(`${command}: exit ${r.code}\n${r.all}`);
  return r.stdout.trim();
};

describe("the GPU VM's first boot, in a real guest", () => {
  it("finishes cloud-init without an error, its packages fetched through the package cache", async () => {
    expect(firstBoot).toMatch(/status: done/);
    expect(await sh("cat /etc/apt/apt.conf.d/90cloud-init-aptproxy")).toContain(APT_PROXY);
    for (const pkg of ["docker.io", "prometheus-node-exporter", "qemu-guest-agent"]) {
      expect(await sh(`dpkg-query -W -f='\${Status}' ${pkg}`)).toBe("install ok installed");
      expect(cache.served(pkg), `${pkg} through the cache`).toBe(true);
    }
  });

  it("the program's first-boot wait returns only once cloud-init is done and Docker answers, having waited through the boot", async () => {
    expect(firstBootWait.outs!.waitedOn[0]).toBe("cloud-init");
    expect(firstBootWait.outs!.bootId).toBe(await sh("cat /proc/sys/kernel/random/boot_id"));
    expect(await sh("test -f /var/lib/cloud/instance/boot-finished && echo finished")).toBe("finished");
    // The first boot recorded its boot id, which the check compares when a reboot is expected (a GPU VM's driver).
    expect(await sh(`cat ${FIRST_BOOT_ID_FILE}`)).toBe(firstBootWait.outs!.bootId);
  });

  it(`lets ${ADMIN_USER} in with its key only: a password login is refused`, async () => {
    expect(await sh("id -un")).toBe(ADMIN_USER);
    const password = await vm.ssh("true", {
      extra: ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "NumberOfPasswordPrompts=1"],
    });
    expect(password.code).toBe(255);
    expect(password.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(await sh("sudo -n sshd -T | grep -E '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) '")).toBe(
      "permitrootlogin no\npasswordauthentication no\nkbdinteractiveauthentication no",
    );
  });

  it("refuses root, even with the operator's key", async () => {
    const root = await vm.ssh("echo root-shell", { user: "root" });
    expect(root.code).not.toBe(0);
    expect(root.stdout).not.toContain("root-shell");
  });

  it(`formats the data disk at ${DATA_DEVICE} and mounts it by its label at ${DATA_MOUNT_POINT}`, async () => {
    expect(await sh(`readlink -f ${DATA_DEVICE}`)).toMatch(/^\/dev\/sd[a-z]$/);
    expect(await sh(`findmnt -n -o FSTYPE,LABEL ${DATA_MOUNT_POINT}`)).toMatch(new RegExp(`^ext4\\s+${DATA_LABEL}$`));
    dataUuid = await sh(`sudo -n blkid -s UUID -o value ${DATA_DEVICE}`);
    expect(dataUuid).toMatch(/^[0-9a-f-]{36}$/);
    await sh(`echo "written on the first boot" | sudo -n tee ${DATA_MOUNT_POINT}/kept.txt >/dev/null`);
    expect(await sh(`grep -E '^LABEL=${DATA_LABEL}\\s' /etc/fstab`)).toMatch(new RegExp(`^LABEL=${DATA_LABEL}\\s+${DATA_MOUNT_POINT}\\s+ext4\\s`));
  });

  it(`runs Docker with the project's daemon.json, and ${ADMIN_USER} reaches it without sudo`, async () => {
    expect(JSON.parse(await sh("cat /etc/docker/daemon.json"))).toEqual(dockerDaemonConfig(DATA_MOUNT_POINT));
    const info = JSON.parse(await sh("docker info --format '{{json .}}'"));
    expect(info).toMatchObject({ CgroupDriver: "cgroupfs", DockerRootDir: `${DATA_MOUNT_POINT}/docker`, LoggingDriver: "json-file", LiveRestoreEnabled: true });
    expect(await sh("id -nG")).toMatch(/\bdocker\b/);
    // A container really runs, as ops, without sudo, and gets the daemon's no-new-privileges (Docker 20.10's info
    // does not list it): an image of grep and its libraries, made from the guest's own files (no registry here).
    await sh(
      "set -e; files=\"$(ldd /usr/bin/grep | grep -o '/[^ ]*' | sort -u) /usr/bin/grep\"; tar -chf - $files 2>/dev/null | docker import - ai-dualstack/probe:1 >/dev/null",
    );
    expect(await sh("docker run --rm ai-dualstack/probe:1 /usr/bin/grep NoNewPrivs /proc/self/status")).toMatch(/^NoNewPrivs:\s+1$/);
  });

  it("backs up a compose volume from where the VM's engine keeps it: the restic source's dump reads the volume's files", async () => {
    const source = environmentSources(testbedConfig(key.publicKey), "public", ["probe-data"])["gpu-vm"][0];
    await sh("docker volume create public_probe-data >/dev/null");
    const mountpoint = await sh("docker volume inspect --format '{{.Mountpoint}}' public_probe-data");
    expect(source.dump).toBe(`tar -C ${mountpoint} -cf - .`);
    await sh(`echo "volume data" | sudo -n tee ${mountpoint}/kept >/dev/null`);
    expect(await sh(`sudo -n sh -c '${source.dump} | tar -tf -'`)).toContain("./kept");
  });

  it("answers on node exporter's port and on the guest agent's channel", async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${vm.nodeExporterPort}/metrics`)).text();
    expect(metrics).toMatch(/^node_exporter_build_info\{/m);
    expect(metrics).toMatch(new RegExp(`^node_filesystem_size_bytes\\{[^}]*mountpoint="${DATA_MOUNT_POINT}"`, "m"));
    expect(await guestAgent(vm.agentSocket, "guest-ping")).toEqual({});
    expect(await guestAgent(vm.agentSocket, "guest-get-host-name")).toEqual({ "host-name": "public-gpu" });
  });

  it("keeps the data disk as it was across a reboot: nothing is reformatted", async () => {
    await vm.restart({ user: ADMIN_USER });
    expect(await waitForFirstBoot(vm, { user: ADMIN_USER })).toMatch(/status: done/);
    expect(await sh(`sudo -n blkid -s UUID -o value ${DATA_DEVICE}`)).toBe(dataUuid);
    expect(await sh(`cat ${DATA_MOUNT_POINT}/kept.txt`)).toBe("written on the first boot");
    expect(await sh("systemctl is-active docker prometheus-node-exporter qemu-guest-agent")).toBe("active\nactive\nactive");
  });

  it("a rebuilt VM (a new OS disk and instance, the same data disk) finds the data where it was", async () => {
    await vm.stop();
    vm = await boot(2);
    expect(await waitForFirstBoot(vm, { user: ADMIN_USER })).toMatch(/status: done/);
    expect(await sh("cat /var/lib/cloud/data/instance-id")).toBe("iid-public-gpu-2");
    expect(await sh(`sudo -n blkid -s UUID -o value ${DATA_DEVICE}`)).toBe(dataUuid);
    expect(await sh(`cat ${DATA_MOUNT_POINT}/kept.txt`)).toBe("written on the first boot");
    // Docker's data root is on the data disk: the new engine finds the image the first one imported.
    expect(JSON.parse(await sh("docker info --format '{{json .}}'"))).toMatchObject({ DockerRootDir: `${DATA_MOUNT_POINT}/docker` });
    expect(await sh("docker image ls --format '{{.Repository}}:{{.Tag}}' ai-dualstack/probe")).toBe("ai-dualstack/probe:1");
  });
});
