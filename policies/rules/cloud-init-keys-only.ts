import { isSet, type Rule } from "../support/policy";
import { CT, FILE, VM } from "../support/types";

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
      if (args.type === VM && args.props.initialization && !account && !isSet(args.props.initialization, "userDataFileId")) {
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
