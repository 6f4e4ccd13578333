// The GPU VM's first boot, for real: a Debian VM boots from the program's own user-data (the public stack's config
// with gpuVm.os debian-12 and gpuVm.nvidia false, the two config keys the testbed needs: its image is Debian and it
// has no GPU), installs its packages through the package cache, and is then rebooted and rebuilt on the same data disk.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ADMIN_USER, DATA_DEVICE, DATA_LABEL, DATA_MOUNT_POINT, dockerDaemonConfig, gpuVmUserDataInput, renderGpuVmUserData } from "../../lib/cloud-init";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { packageCacheFiles } from "../../lib/package-cache";
import { environmentSources } from "../../lib/backup/plan";
import { FIRST_BOOT_ID_FILE, renderFirstBootCheck } from "../../lib/first-boot";
import { firstBootProvider } from "../../components/providers/first-boot";
import { renderComposeFile } from "../../lib/compose/compose-file";
import { environmentCatalog, environmentStack, gatewayMaterial } from "../../lib/compose/services";
import { committedConfig, edit } from "../helpers/config";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { tool } from "../helpers/process";
import { caddyImage, importImage, ollamaImage, webStandIn } from "./images";
import { APT_PROXY, bootVm, guestAgent, guestImage, startPackageCache, testKey, waitForFirstBoot, type Booted, type PackageCache } from "./testbed";

/** The public environment's config as the testbed deploys it: Debian 12, no GPU, the test's SSH key. */
function testbedConfig(publicKey: string): EnvironmentConfig {
  const raw = committedConfig("public");
  const gpuVm = JSON.parse(raw.values["ai-dualstack:gpuVm"]);
  delete gpuVm.nvidiaDriverPackage;
  const edited = edit(edit(raw, "gpuVm", [], { ...gpuVm, os: "debian-12", nvidia: false }), "sshKeys", [], [publicKey]);
  return loadConfig(edited).config as EnvironmentConfig;
}

/** What the tests read of a Compose file (as `dualstack compose` prints it) and of `docker compose ps`. */
interface ComposeDoc {
  services: Record<string, { image: string; container_name: string; ports?: string[]; healthcheck?: unknown; depends_on?: Record<string, unknown> }>;
  secrets?: Record<string, { file: string }>;
}
interface ComposePs {
  Service: string;
  State: string;
  Health: string;
}

const dir = mkdtempSync(join(tmpdir(), "guests-gpu-vm-"));
const dataDisk = join(dir, "data.qcow2");
let cache: PackageCache;
let vm: Booted;
let firstBoot: string;
let firstBootWait: { id: string; outs?: { bootId: string; waitedOn: string[] } };
let dataUuid: string;
let userData: string;
/** The config the guest is deployed from (testbedConfig with the test's key), once for the whole file. */
let config: EnvironmentConfig;
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
  config = testbedConfig(key.publicKey);
  userData = renderGpuVmUserData(gpuVmUserDataInput(config, APT_PROXY));
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

/** A file in a Docker volume on the guest, as a shell word (the volume's mount point, then `path`). */
const inVolume = (volume: string, path = "") => `"$(docker volume inspect --format '{{.Mountpoint}}' ${volume})${path && `/${path}`}"`;

const sh = async (command: string, user = ADMIN_USER, timeoutMs?: number) => {
  const r = await vm.ssh(command, { user, ...(timeoutMs ? { timeoutMs } : {}) });
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
    const source = environmentSources(config, "public", ["probe-data"])["gpu-vm"][0];
    await sh("docker volume create public_probe-data >/dev/null");
    const mountpoint = await sh(`echo ${inVolume("public_probe-data")}`);
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

// `dualstack compose`'s file for this config, brought up by Docker Compose in the guest. The images are built here
// (scripts/ollama.sh, scripts/caddy.sh: the images' versions); left out, as their programs cannot be had here:
// qdrant (Rust, from crates.io) — nothing depends on it, the gateway proxies to it on demand. The chatbot (Open WebUI,
// Python from PyPI) runs as a stand-in that answers its health path, so that the start order through it is real.
// The DCGM exporter needs a GPU: the program leaves it out of a config without the NVIDIA stack.
describe("the public compose stack, brought up by docker compose on the GPU VM", () => {
  const project = `/home/${ADMIN_USER}/public`;
  const running = ["ollama", "chatbot", "ingress", "gateway"];
  const secrets = { QDRANT_API_KEY: "testbed-qdrant-key", CHATBOT_SECRET_KEY: "testbed-chatbot-key" };
  const compose = (args: string) =>
    sh(
      `cd ${project} && ${Object.entries(secrets)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")} docker compose -f compose.yaml -f testbed.yaml ${args}`,
      ADMIN_USER,
      // Up waits for the health checks (30 s apart) of a chain of three services, under emulation.
      20 * 60_000,
    );
  const inspect = async (container: string) => JSON.parse(await sh(`docker inspect ${container}`))[0];
  /** The image that stands in for Open WebUI, and the root certificate of Caddy's internal CA in its data volume. */
  const standIn = "ai-dualstack/stand-in-open-webui:1";
  const caddyRoot = "caddy/pki/authorities/local/root.crt";
  let doc: ComposeDoc;
  let vmIp: string;
  let ca: TestCa;
  let ingressRoot: string;
  const volumeFile = async (volume: string, path: string) => sh(`sudo -n sha256sum ${inVolume(volume, path)} | cut -d' ' -f1`);
  const up = () => compose(`up --wait --wait-timeout 900 ${running.join(" ")}`);

  beforeAll(async () => {
    const text = renderComposeFile(environmentStack(config, "public", environmentCatalog(config, "public")), { env: "public", stack: "public" });
    doc = parse(text) as ComposeDoc;
    vmIp = config.gpuVm.address.split("/")[0];
    const local = join(dir, "compose");
    mkdirSync(join(local, "materials"), { recursive: true });
    writeFileSync(join(local, "compose.yaml"), text);
    writeFileSync(join(local, "testbed.yaml"), `services:\n  chatbot:\n    image: ${standIn}\n`);
    // The gateway's certificates as the environment CA issues them: the VM's address and the service's name.
    ca = makeTestCa("ai-dualstack public CA (test)");
    writeFileSync(join(local, "ca.crt"), ca.certPem);
    for (const service of ["ollama", "qdrant"]) {
      const cert = ca.issue(`public-${service}`, { ip: [vmIp], dns: [`public-${service}`] });
      writeFileSync(join(local, "materials", gatewayMaterial(service).cert), cert.certPem);
      writeFileSync(join(local, "materials", gatewayMaterial(service).key), cert.keyPem);
    }
    await sh(`mkdir -p ${project}/materials ~/.docker/cli-plugins`);
    for (const file of ["compose.yaml", "testbed.yaml", "ca.crt", ...Object.values(doc.secrets ?? {}).map((s) => s.file.replace(/^\.\//, ""))]) {
      await vm.upload(join(local, file), `${project}/${file}`);
    }
    await vm.upload(tool("docker-compose"), `/home/${ADMIN_USER}/.docker/cli-plugins/docker-compose`);
    await sh("chmod 0755 ~/.docker/cli-plugins/docker-compose");
    // The VM's address on its NIC, as Proxmox's cloud-init network config gives it; curl for the checks below.
    await sh(`sudo -n ip addr replace ${config.gpuVm.address} dev "$(ip -o -4 addr show scope global | awk '{print $2; exit}')"`);
    await sh("sudo -n apt-get install -y -q curl >/dev/null", ADMIN_USER, 10 * 60_000);
    await importImage(vm, dir, ollamaImage(doc.services.ollama.image));
    await importImage(vm, dir, caddyImage(doc.services.ingress.image));
    await importImage(vm, dir, webStandIn(standIn, 8080, "/health"));
    await up();
    ingressRoot = await sh(`sudo -n cat ${inVolume("public_ingress-data", caddyRoot)}`);
  }, 40 * 60_000);

  afterAll(() => ca?.remove());

  it("brings up every service but those left out, each healthy where it has a healthcheck", async () => {
    expect(Object.keys(doc.services)).toEqual(["ollama", "qdrant", "chatbot", "ingress", "gateway"]);
    const states = (await sh(`cd ${project} && docker compose -p public ps --all --format json`)).split("\n").map((l) => JSON.parse(l) as ComposePs);
    expect(Object.fromEntries(states.map((s) => [s.Service, s.State]))).toEqual(Object.fromEntries(running.map((s) => [s, "running"])));
    for (const s of states) expect([s.Service, s.Health]).toEqual([s.Service, doc.services[s.Service].healthcheck ? "healthy" : ""]);
  });

  it("starts each service only once the services it depends on are healthy", async () => {
    const dependencies = running.flatMap((s) => Object.keys(doc.services[s].depends_on ?? {}).map((d) => [s, d] as const));
    expect(dependencies).toEqual([
      ["chatbot", "ollama"],
      ["ingress", "chatbot"],
    ]);
    for (const [service, dependency] of dependencies) {
      const started = Date.parse((await inspect(doc.services[service].container_name)).State.StartedAt);
      const checks = (await inspect(doc.services[dependency].container_name)).State.Health.Log as { End: string; ExitCode: number }[];
      const healthy = Date.parse(checks.find((c) => c.ExitCode === 0)!.End);
      expect(started, `${service} started after ${dependency} was healthy`).toBeGreaterThanOrEqual(healthy);
    }
  });

  it("publishes only the declared ports, each on its declared address", async () => {
    const declared = running.flatMap((s) => (doc.services[s].ports ?? []).map((p) => p.replace(/:\d+\/tcp$/, "")));
    expect(declared.sort()).toEqual([`${vmIp}:11434`, `${vmIp}:6333`, "0.0.0.0:443", "127.0.0.1:11434"].sort());
    const listening = (await sh("sudo -n ss -Hltnp | grep docker-proxy | awk '{print $4}'")).split("\n");
    expect(listening.sort()).toEqual(declared.sort());
  });

  it("serves Ollama through the gateway over TLS 1.3 with the environment CA's certificate, and nothing older", async () => {
    const url = `https://${vmIp}:11434/api/version`;
    const [headers, body] = (await sh(`curl -fsS -D - --cacert ${project}/ca.crt ${url}`)).split(/\r?\n\r?\n/);
    expect(JSON.parse(body)).toEqual({ version: doc.services.ollama.image.split(":")[1] });
    expect(headers).not.toMatch(/^(server|via|alt-svc):/im);
    expect(await sh(`curl -fsS --cacert ${project}/ca.crt --tls-max 1.2 ${url} >/dev/null 2>&1 && echo accepted || echo refused`)).toBe("refused");
    expect(await sh(`curl -fsS ${url} >/dev/null 2>&1 && echo accepted || echo refused`)).toBe("refused");
  });

  it("serves the chatbot under its host name through the ingress, with the program's headers", async () => {
    const host = config.services.ingress!.hostname;
    await sh(`cat > /tmp/ingress-root.crt <<'PEM'\n${ingressRoot}\nPEM`);
    const response = await sh(`curl -fsS -D - --resolve ${host}:443:127.0.0.1 --cacert /tmp/ingress-root.crt https://${host}/`);
    expect(response).toMatch(/^strict-transport-security: max-age=31536000/im);
    // Caddy's name in neither Server nor Via (Caddy 2.10's reverse_proxy adds a Via header); no HTTP/3 advertised
    // on a UDP port nothing publishes.
    expect(response).not.toMatch(/^(server|via|alt-svc):/im);
    expect(response).toContain(`stand-in for ${standIn}`);
  });

  it("keeps the volumes across down and up: Ollama's identity and the ingress's CA are the same", async () => {
    const before = [await volumeFile("public_ollama-models", "id_ed25519"), await volumeFile("public_ingress-data", caddyRoot)];
    await compose("down");
    expect(await sh("docker ps -a -q --filter label=com.docker.compose.project=public")).toBe("");
    // Down leaves the volumes (with the program's labels) as they were.
    expect((await sh("docker volume ls -q --filter label=managed-by=ai-dualstack --filter label=stack=public")).split("\n")).toEqual(
      expect.arrayContaining(["public_chatbot-data", "public_ingress-data", "public_ollama-models"]),
    );
    await up();
    expect([await volumeFile("public_ollama-models", "id_ed25519"), await volumeFile("public_ingress-data", caddyRoot)]).toEqual(before);
  });
});
