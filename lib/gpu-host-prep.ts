// Host preparation for GPU passthrough, rendered as idempotent POSIX shell scripts run over SSH:
// IOMMU on the kernel command line (GRUB or systemd-boot/ZFS-root hosts), vfio modules and device ids, GPU driver
// blacklist, a reboot only when something changed, and a verification that every GPU is bound to vfio-pci and sits
// alone in the IOMMU group its mapping records. Every path is prefixed with $ROOT (empty on a real host) so that
// tests run the very same scripts against a fake /sys, /proc and /etc.
import type { GpuConfig } from "./config/schema";

export interface HostPrepInput {
  cpuVendor: "intel" | "amd";
  bootloader: "auto" | "grub" | "systemd-boot";
  gpus: Pick<GpuConfig, "mapping" | "deviceId" | "companionIds" | "path" | "iommuGroup" | "subsystemId">[];
}

export const REBOOT_MARKER = "/run/ai-dualstack/reboot-required";

export function kernelArgs(cpuVendor: "intel" | "amd"): string[] {
  // AMD enables the IOMMU by default; iommu=pt keeps host devices fast in both cases.
  return cpuVendor === "intel" ? ["intel_iommu=on", "iommu=pt"] : ["iommu=pt"];
}

export function vfioIds(gpus: HostPrepInput["gpus"]): string[] {
  return [...new Set(gpus.flatMap((g) => [g.deviceId, ...g.companionIds]))].sort();
}

const PREAMBLE = `set -eu
ROOT="\${ROOT:-}"
`;

export function renderPrepareScript(input: HostPrepInput): string {
  const ids = vfioIds(input.gpus);
  if (ids.length === 0) throw new Error("renderPrepareScript: no GPU to prepare");
  const args = kernelArgs(input.cpuVendor).join(" ");
  return `${PREAMBLE}changed=0
# write_if_changed FILE: replaces FILE with stdin when the content differs.
write_if_changed() {
  tmp="$(mktemp)"; cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  mkdir -p "$(dirname "$1")"; mv "$tmp" "$1"; chmod 0644 "$1"; return 0
}

bootloader="${input.bootloader}"
if [ "$bootloader" = auto ]; then
  if [ -d "$ROOT/sys/firmware/efi" ] && [ -f "$ROOT/etc/kernel/cmdline" ]; then bootloader=systemd-boot; else bootloader=grub; fi
fi
echo "bootloader: $bootloader"

cmdline_changed=0
for arg in ${args}; do
  if [ "$bootloader" = systemd-boot ]; then
    if ! grep -qw -- "$arg" "$ROOT/etc/kernel/cmdline"; then
      sed -i "1s|\\$| $arg|" "$ROOT/etc/kernel/cmdline"; cmdline_changed=1
    fi
  else
    if ! grep -q "^GRUB_CMDLINE_LINUX_DEFAULT=.*[\\" ]\${arg}[\\" ]" "$ROOT/etc/default/grub"; then
      sed -i "s|^GRUB_CMDLINE_LINUX_DEFAULT=\\"\\(.*\\)\\"|GRUB_CMDLINE_LINUX_DEFAULT=\\"\\1 $arg\\"|" "$ROOT/etc/default/grub"; cmdline_changed=1
    fi
  fi
done
if [ "$cmdline_changed" = 1 ]; then
  changed=1
  if [ "$bootloader" = systemd-boot ]; then proxmox-boot-tool refresh; else update-grub; fi
  echo "kernel command line: added ${args}"
fi

initramfs_changed=0
if printf '%s\\n' vfio vfio_iommu_type1 vfio_pci | write_if_changed "$ROOT/etc/modules-load.d/ai-dualstack-vfio.conf"; then initramfs_changed=1; fi
if write_if_changed "$ROOT/etc/modprobe.d/ai-dualstack-vfio.conf" <<'EOF'
# Managed by ai-dualstack: the passed-through GPUs belong to vfio-pci before any GPU driver.
options vfio-pci ids=${ids.join(",")} disable_vga=1
softdep nouveau pre: vfio-pci
softdep nvidia pre: vfio-pci
softdep nvidiafb pre: vfio-pci
softdep snd_hda_intel pre: vfio-pci
EOF
then initramfs_changed=1; fi
if write_if_changed "$ROOT/etc/modprobe.d/ai-dualstack-blacklist-gpu.conf" <<'EOF'
# Managed by ai-dualstack: the host never drives the passed-through GPUs.
blacklist nouveau
blacklist nvidia
blacklist nvidiafb
blacklist nvidia_drm
EOF
then initramfs_changed=1; fi
if [ "$initramfs_changed" = 1 ]; then
  changed=1
  update-initramfs -u -k all
  echo "vfio modules and device ids written, initramfs updated"
fi

if [ "$changed" = 1 ]; then
  mkdir -p "$(dirname "$ROOT${REBOOT_MARKER}")"; : > "$ROOT${REBOOT_MARKER}"
  echo "RESULT: changed, reboot required"
else
  echo "RESULT: unchanged"
fi
`;
}

/** Schedules a reboot only when the prepare step left its marker; prints REBOOTING or NO_REBOOT. */
export function renderRebootScript(): string {
  return `${PREAMBLE}if [ -f "$ROOT${REBOOT_MARKER}" ]; then
  systemd-run --on-active=5 --unit=ai-dualstack-reboot /bin/systemctl reboot
  echo REBOOTING
else
  echo NO_REBOOT
fi
`;
}

/**
 * Runs where Pulumi runs: after a scheduled reboot, waits for SSH to go down and come back (bash /dev/tcp, no SSH
 * client needed). Reads HOST and REBOOT_STATUS (the reboot step's output) from the environment; PORT (22) and
 * SETTLE (seconds to let SSH finish starting, 15) may be overridden.
 */
export function renderWaitScript(): string {
  return `set -eu
case "\${REBOOT_STATUS:-}" in *REBOOTING*) ;; *) echo "no reboot was needed"; exit 0;; esac
PORT="\${PORT:-22}"
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; }
i=0; while port_open; do i=$((i+1)); [ $i -lt 60 ] || { echo "$HOST did not go down for its reboot within 120 s"; exit 1; }; sleep 2; done
i=0; until port_open; do i=$((i+1)); [ $i -lt 180 ] || { echo "$HOST did not come back within 15 min after its reboot"; exit 1; }; sleep 5; done
sleep "\${SETTLE:-15}"
echo "$HOST is back"
`;
}

function deviceOf(path: string): string {
  return /\.[0-7]$/.test(path) ? path : `${path}.0`;
}

/** Fails (exit 1) with one line per problem unless every GPU is ready for passthrough as its mapping says. */
export function renderVerifyScript(input: HostPrepInput): string {
  const checks = input.gpus
    .map((g) => {
      const dev = deviceOf(g.path);
      const slot = dev.replace(/\.[0-7]$/, "");
      const [vendor, device] = g.deviceId.split(":");
      return `
d="$ROOT/sys/bus/pci/devices/${dev}"
if [ ! -e "$d" ]; then problem "GPU ${g.mapping}: no PCI device at ${dev}"; else
  id="$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")"
  [ "$id" = "${vendor}:${device}" ] || problem "GPU ${g.mapping}: ${dev} is $id, the mapping says ${g.deviceId}"
  sub="$(sed 's/^0x//' "$d/subsystem_vendor"):$(sed 's/^0x//' "$d/subsystem_device")"
  [ "$sub" = "${g.subsystemId}" ] || problem "GPU ${g.mapping}: subsystem id is $sub, the mapping says ${g.subsystemId}"
  group="$(basename "$(readlink "$d/iommu_group")")"
  [ "$group" = "${g.iommuGroup}" ] || problem "GPU ${g.mapping}: IOMMU group is $group, the mapping says ${g.iommuGroup}"
  for m in "$d/iommu_group/devices"/*; do
    m="\${m##*/}"
    case "$m" in ${slot}.*) ;; *) problem "GPU ${g.mapping}: IOMMU group $group also holds $m, so the GPU cannot be passed through alone";; esac
  done
  drv="none"; [ -e "$d/driver" ] && drv="$(basename "$(readlink "$d/driver")")"
  [ "$drv" = vfio-pci ] || problem "GPU ${g.mapping}: bound to $drv, expected vfio-pci"
fi`;
    })
    .join("\n");
  const args = kernelArgs(input.cpuVendor);
  return `${PREAMBLE}fail=0
problem() { echo "PROBLEM: $*"; fail=1; }
for arg in ${args.join(" ")}; do grep -qw -- "$arg" "$ROOT/proc/cmdline" || problem "kernel command line lacks $arg"; done
if ! { [ -d "$ROOT/sys/kernel/iommu_groups" ] && [ -n "$(ls "$ROOT/sys/kernel/iommu_groups")" ]; }; then problem "no IOMMU groups: enable VT-d/AMD-Vi in the firmware"; fi
${checks}
if [ "$fail" = 0 ]; then echo "OK: ${input.gpus.length} GPU(s) ready for passthrough"; fi
exit "$fail"
`;
}
