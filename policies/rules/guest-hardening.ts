import { guestEnvironment, isTrue } from "../support/guests";
import type { Rule } from "../support/policy";
import { CT, FILE, PROXMOX_PROVIDER, VM } from "../support/types";

export const lxcUnprivileged: Rule = (t) => ({
  name: "lxc-unprivileged",
  description: `Containers are unprivileged and use only allowlisted features (${t.allowedLxcFeatures.join(", ")}).`,
  reason: "A privileged container's root is the host's root; fuse, mknod and mount widen what an unprivileged one can reach.",
  source: "security-and-dr.md rules 12–13; PVE pct.adoc; proxmox.md §4 (unprivileged defaults to false)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== CT) return;
    if (args.props.unprivileged !== true) report(`${args.name} is a privileged container; set unprivileged: true`);
    for (const [feature, on] of Object.entries(args.props.features ?? {})) {
      if (feature === "mounts") {
        if (Array.isArray(on) && on.length > 0) report(`${args.name} enables the mount feature (${on.join(", ")}), which is not allowlisted`);
      } else if (on === true && !(t.allowedLxcFeatures as string[]).includes(feature)) {
        report(`${args.name} enables the LXC feature ${feature}, which is not allowlisted (${t.allowedLxcFeatures.join(", ")})`);
      }
    }
  },
});

export const cloudInitKeysOnly: Rule = () => ({
  name: "cloud-init-keys-only",
  description: "Guests log in with SSH keys only: no cloud-init password, password authentication off, at least one key.",
  reason: "Passwords in cloud-init end up in plain text in snippets and state, and password SSH invites brute force.",
  source: "security-and-dr.md rule 19; Checkov CKV_AZURE_1; HSE §1.1.4",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type === VM || args.type === CT) {
      const account = args.props.initialization?.userAccount;
      if (account?.password) report(`${args.name} sets a cloud-init password`);
      if (account && !(Array.isArray(account.keys) && account.keys.length > 0)) report(`${args.name} has a user account without SSH keys`);
      if (args.type === VM && args.props.initialization && !account && !args.props.initialization.userDataFileId) {
        report(`${args.name} has cloud-init but neither SSH keys nor user-data that sets them`);
      }
    }
    if (args.type === FILE && args.props.contentType === "snippets") {
      const data: string = args.props.sourceRaw?.data ?? "";
      if (!data.startsWith("#cloud-config")) return;
      if (!/^ssh_pwauth: false$/m.test(data)) report(`${args.name}: user-data must set ssh_pwauth: false`);
      if (/^\s*-?\s*(passwd|hashed_passwd|plain_text_passwd|password|chpasswd):/m.test(data)) report(`${args.name}: user-data sets a password`);
      if (!/ssh_authorized_keys:\s*\n\s+- \S/m.test(data)) report(`${args.name}: user-data gives no SSH authorized key`);
    }
  },
});

export const guestAgentTimeout: Rule = () => ({
  name: "guest-agent-timeout",
  description: "A VM that uses the QEMU guest agent sets a timeout for it.",
  reason: "With the agent enabled but not answering, create, refresh and destroy hang for about 15 minutes.",
  source: "proxmox.md pain point 6 (bpg#449, #669, #2079, #2084)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    const agent = args.props.agent;
    if (isTrue(agent?.enabled) && !agent?.timeout) report(`${args.name} enables the guest agent without a timeout`);
  },
});

export const providerTls: Rule = () => ({
  name: "provider-tls",
  description: "The Proxmox provider talks HTTPS with certificate verification on and a minimum TLS version.",
  reason: "An API token sent over an unverified connection is one machine-in-the-middle away from the whole host.",
  source: "security-and-dr.md rule 20; HSE §2.3.1",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== PROXMOX_PROVIDER) return;
    if (isTrue(args.props.insecure)) report(`${args.name} skips TLS verification (insecure: true)`);
    if (!args.props.minTls) report(`${args.name} sets no minimum TLS version (minTls)`);
    if (args.props.endpoint && !String(args.props.endpoint).startsWith("https://")) report(`${args.name} uses ${args.props.endpoint}; expected https://`);
  },
});

export { guestEnvironment };
