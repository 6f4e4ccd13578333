// Cloud-init user-data for the GPU VMs: NVIDIA driver, container toolkit, Docker (with the cgroupfs fix that keeps
// the GPU after idle), qemu-guest-agent, node exporter, SSH keys only. The data disk is formatted only when it has
// no filesystem yet, so a replaced VM finds its model store and vector data where it left them.
import { createHash } from "node:crypto";
import { stringify } from "yaml";

export interface GpuVmUserDataInput {
  hostname: string;
  fqdn?: string;
  sshKeys: string[];
  nvidiaDriverPackage: string;
  /** The by-id path of the data disk as the guest sees it. */
  dataDevice: string;
  dataMountPoint: string;
  env: string;
}

export const ADMIN_USER = "ops";
export const DATA_LABEL = "aidata";

/** Docker daemon settings: cgroupfs keeps the GPU visible after idle (ollama#3930, PR #7519). */
export function dockerDaemonConfig(dataMountPoint: string): Record<string, unknown> {
  return {
    "exec-opts": ["native.cgroupdriver=cgroupfs"],
    "data-root": `${dataMountPoint}/docker`,
    "log-driver": "json-file",
    "log-opts": { "max-size": "50m", "max-file": "3" },
    "live-restore": true,
    "no-new-privileges": true,
  };
}

const SSHD_HARDENING = [
  "# Managed by ai-dualstack: keys only.",
  "PasswordAuthentication no",
  "KbdInteractiveAuthentication no",
  "PermitRootLogin no",
  "PubkeyAuthentication yes",
  "",
].join("\n");

const NVIDIA_TOOLKIT_REPO = "https://nvidia.github.io/libnvidia-container";

export function renderGpuVmUserData(input: GpuVmUserDataInput): string {
  if (input.sshKeys.length === 0) throw new Error("renderGpuVmUserData: at least one SSH key is required");
  const keyring = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg";
  const doc = {
    hostname: input.hostname,
    ...(input.fqdn ? { fqdn: input.fqdn } : {}),
    manage_etc_hosts: true,
    users: [
      {
        name: ADMIN_USER,
        gecos: "ai-dualstack operator",
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: input.sshKeys,
      },
    ],
    ssh_pwauth: false,
    disable_root: true,
    package_update: true,
    package_upgrade: false,
    packages: ["qemu-guest-agent", "prometheus-node-exporter", "docker.io", "docker-compose-v2", "curl", "gnupg", input.nvidiaDriverPackage],
    fs_setup: [
      // overwrite: false — cloud-init leaves a device that already has a filesystem untouched.
      { label: DATA_LABEL, filesystem: "ext4", device: input.dataDevice, partition: "none", overwrite: false },
    ],
    mounts: [[`LABEL=${DATA_LABEL}`, input.dataMountPoint, "ext4", "defaults,nofail,x-systemd.device-timeout=30s", "0", "2"]],
    write_files: [
      { path: "/etc/docker/daemon.json", permissions: "0644", content: `${JSON.stringify(dockerDaemonConfig(input.dataMountPoint), null, 2)}\n` },
      { path: "/etc/ssh/sshd_config.d/60-ai-dualstack.conf", permissions: "0644", content: SSHD_HARDENING },
      { path: "/etc/ai-dualstack/environment", permissions: "0644", content: `AI_DUALSTACK_ENV=${input.env}\n` },
    ],
    runcmd: [
      ["systemctl", "enable", "--now", "qemu-guest-agent"],
      ["systemctl", "enable", "--now", "prometheus-node-exporter"],
      // The repository is added only once its key is in place (a source without its key would fail every
      // apt-get update); apt expands $(ARCH) itself, hence the single quotes.
      [
        "sh",
        "-c",
        `curl -fsSL ${NVIDIA_TOOLKIT_REPO}/gpgkey | gpg --batch --yes --dearmor -o ${keyring} && printf '%s\\n' 'deb [signed-by=${keyring}] ${NVIDIA_TOOLKIT_REPO}/stable/deb/$(ARCH) /' > /etc/apt/sources.list.d/nvidia-container-toolkit.list`,
      ],
      ["sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nvidia-container-toolkit"],
      ["nvidia-ctk", "runtime", "configure", "--runtime=docker"],
      ["usermod", "-aG", "docker", ADMIN_USER],
      ["systemctl", "restart", "ssh"],
      ["systemctl", "restart", "docker"],
    ],
    // One reboot after the first boot loads the freshly built NVIDIA kernel module.
    power_state: { mode: "reboot", message: "ai-dualstack: reboot to load the NVIDIA driver", timeout: 30, condition: true },
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Short content hash used to name snippets, so a changed user-data is a new file rather than an overwrite. */
export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex").slice(0, 12);
}

export function snippetFileName(vmName: string, content: string): string {
  return `${vmName}-user-data-${contentHash(content)}.yaml`;
}
