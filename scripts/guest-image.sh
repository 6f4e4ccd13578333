#!/usr/bin/env bash
# Builds the real-guest testbed's Debian disk image (test/guests): a root from the same Debian archive apt uses
# (mmdebstrap), the way a cloud image is — cloud-init, OpenSSH, sudo, D-Bus, locales, the cloud kernel — on one ext4
# partition labelled rootfs, booted by QEMU directly from the kernel and initrd beside it (no boot loader). Everything
# the program's user-data and install scripts install comes through the package cache the tests run, not from here.
# Cached in ~/.cache/ai-dualstack/guest-image-<hash of this script>/ (AI_DUALSTACK_CACHE moves it): prints that
# directory (disk.qcow2, vmlinuz, initrd.img). With --check, prints it only when built, else exits 1.
set -euo pipefail
suite=bookworm
packages=systemd-sysv,linux-image-cloud-amd64,cloud-init,openssh-server,sudo,dbus,locales,ca-certificates,systemd-resolved
hash="$(sha256sum <"$0" | cut -c1-12)"
dir="${AI_DUALSTACK_CACHE:-$HOME/.cache/ai-dualstack}/guest-image-$hash"
if [ -f "$dir/disk.qcow2" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; then
  echo "guest image $suite: cached" >&2
  echo "$dir"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1
for tool in mmdebstrap mke2fs sfdisk qemu-img; do
  command -v "$tool" >/dev/null || { echo "guest-image: $tool is missing (apt-get install mmdebstrap qemu-utils e2fsprogs fdisk)" >&2; exit 2; }
done
start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/guest-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$work/root.tar"
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xpf "$work/root.tar" --numeric-owner
rm "$work/root.tar"
r="$work/rootfs"
echo 'LABEL=rootfs / ext4 defaults,errors=remount-ro 0 1' > "$r/etc/fstab"
# The first NIC by DHCP, as a cloud image's fallback network does; cloud-init's own network config comes on top.
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$r/etc/systemd/network/90-dhcp.network"
systemctl --root="$r" enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
# A fresh identity per VM: cloud-init makes the host keys, systemd the machine id.
: > "$r/etc/machine-id"
rm -f "$r"/etc/ssh/ssh_host_*
# The cloud images' locale, so that cloud-init's locale module finds it.
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$r/etc/locale.gen"
chroot "$r" locale-gen >/dev/null
cp "$r"/boot/vmlinuz-* "$work/vmlinuz"
cp "$r"/boot/initrd.img-* "$work/initrd.img"
truncate -s 8G "$work/disk.raw"
echo 'start=2048, type=83' | sfdisk -q "$work/disk.raw"
mke2fs -q -t ext4 -L rootfs -d "$r" -E offset=1048576 "$work/disk.raw" $(((8192 - 1) * 1024))k
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
mkdir -p "$dir"
mv "$work/disk.qcow2" "$work/vmlinuz" "$work/initrd.img" "$dir/"
echo "guest image $suite: built in $(($(date +%s) - start)) s, $(du -h "$dir/disk.qcow2" | cut -f1)" | tee -a "$dir/build.log" >&2
echo "$dir"
