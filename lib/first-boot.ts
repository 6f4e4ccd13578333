// When a GPU VM's first boot is over: cloud-init's last stage has run (its boot-finished marker: `cloud-init status
// --wait` can return before the final stage), without an error, the reboot the user-data asks for (to load the
// NVIDIA driver) is behind it, and Docker answers the admin user. The check runs over SSH, again and again, until it
// says `ready`; the FirstBoot resource (components/providers/first-boot.ts) is that loop, and everything that uses
// the VM's Docker engine depends on it.

/** Where the user-data records the first boot's boot id, so that the check can tell the boot after the reboot. */
export const FIRST_BOOT_ID_FILE = "/var/lib/ai-dualstack/first-boot-id";

/** The user-data command that records it (the first of runcmd: before anything that could fail). */
export const RECORD_FIRST_BOOT: string[] = [
  "sh",
  "-c",
  `mkdir -p ${FIRST_BOOT_ID_FILE.replace(/\/[^/]+$/, "")} && cat /proc/sys/kernel/random/boot_id > ${FIRST_BOOT_ID_FILE}`,
];

export type FirstBootState = { state: "ready"; bootId: string } | { state: "waiting"; on: string } | { state: "failed"; report: string };

/**
 * The check, for bash: one line "ready <boot id>", "waiting <what>", or "failed" followed by cloud-init's report.
 * Paths carry $ROOT (empty on the guest) so that a test runs it over a directory of its own.
 */
export function renderFirstBootCheck(options: { expectReboot: boolean }): string {
  return `set -u
ROOT="\${ROOT:-}"
if [ ! -f "$ROOT/var/lib/cloud/instance/boot-finished" ]; then echo "waiting cloud-init"; exit 0; fi
report="$(cloud-init status --long 2>&1 || true)"
case "$(printf '%s\\n' "$report" | sed -n 's/^status: *//p' | head -n 1)" in
  done) ;;
  error* | degraded*) echo "failed"; printf '%s\\n' "$report"; exit 0 ;;
  *) echo "waiting cloud-init"; exit 0 ;;
esac
boot="$(cat "$ROOT/proc/sys/kernel/random/boot_id")"
${options.expectReboot ? `if [ "$boot" = "$(cat "$ROOT${FIRST_BOOT_ID_FILE}" 2>/dev/null)" ]; then echo "waiting reboot"; exit 0; fi\n` : ""}if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then echo "waiting docker"; exit 0; fi
echo "ready $boot"
`;
}

/** What one run of the check said. */
export function parseFirstBootCheck(output: string): FirstBootState {
  const [first, ...rest] = output.replace(/\r/g, "").trim().split("\n");
  const [word, ...args] = (first ?? "").trim().split(/\s+/);
  if (word === "ready" && args[0]) return { state: "ready", bootId: args[0] };
  if (word === "failed") return { state: "failed", report: rest.join("\n").trim() };
  return { state: "waiting", on: word === "waiting" ? args.join(" ") : `an unexpected answer: ${JSON.stringify(output.slice(0, 200))}` };
}
