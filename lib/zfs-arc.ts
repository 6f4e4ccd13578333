// The ZFS ARC's maximum on a node, as an idempotent POSIX shell script run over SSH: the module option in a file of
// our own (other zfs_arc_max settings, such as the PVE installer's /etc/modprobe.d/zfs.conf, are taken out so
// that two files cannot disagree), the running module's limit set at once (no reboot), the initramfs rebuilt when
// the root is on ZFS (the module loads from it), and a check that the running limit is the one asked for. Every
// path is prefixed with $ROOT (empty on a real host), as in lib/gpu-host-prep.ts, so tests run it on a fake root.
export const ARC_CONF = "/etc/modprobe.d/ai-dualstack-zfs.conf";

export function renderArcScript(maxBytes: number): string {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 64 * 1024 ** 2) throw new Error(`renderArcScript: expected at least 64 MiB, got ${maxBytes}`);
  return `set -eu
ROOT="\${ROOT:-}"
want=${maxBytes}
ours="$ROOT${ARC_CONF}"
changed=0
for f in "$ROOT"/etc/modprobe.d/*.conf; do
  if [ ! -f "$f" ] || [ "$f" = "$ours" ]; then continue; fi
  if grep -Eq '^[[:space:]]*options[[:space:]]+zfs[[:space:]].*zfs_arc_max=' "$f"; then
    sed -i -E -e '/^[[:space:]]*options[[:space:]]+zfs[[:space:]]/ s/[[:space:]]+zfs_arc_max=[^[:space:]]*//' \\
      -e '/^[[:space:]]*options[[:space:]]+zfs[[:space:]]*$/d' "$f"
    echo "zfs_arc_max taken out of $f"; changed=1
  fi
done
tmp="$(mktemp)"
printf '%s\\n' "# Managed by ai-dualstack: the ZFS ARC's maximum (ai-dualstack:nodes[].memory.zfsArcMaxGiB)." "options zfs zfs_arc_max=$want" > "$tmp"
if [ -f "$ours" ] && cmp -s "$tmp" "$ours"; then rm -f "$tmp"; else
  mkdir -p "$(dirname "$ours")"; mv "$tmp" "$ours"; chmod 0644 "$ours"; echo "wrote $ours"; changed=1
fi
if [ "$changed" = 1 ] && grep -q 'root=ZFS=' "$ROOT/proc/cmdline"; then
  update-initramfs -u -k all
  echo "initramfs updated (the root is on ZFS)"
fi
param="$ROOT/sys/module/zfs/parameters/zfs_arc_max"
if [ ! -e "$param" ]; then echo "PROBLEM: the zfs module is not loaded ($param is missing)"; exit 1; fi
now="$(cat "$param")"
if [ "$now" != "$want" ]; then echo "$want" > "$param"; echo "running zfs_arc_max: $now -> $want"; changed=1; fi
now="$(cat "$param")"
if [ "$now" != "$want" ]; then echo "PROBLEM: the running zfs_arc_max is $now after setting $want"; exit 1; fi
if [ "$changed" = 1 ]; then echo "RESULT: changed"; else echo "RESULT: unchanged"; fi
`;
}
