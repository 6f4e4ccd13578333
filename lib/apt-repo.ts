// A third-party apt repository (HashiCorp's for Vault, Grafana's for Grafana, Loki and Alloy) added by an install
// script only after its signing key has been checked: the downloaded key must hold exactly one primary key and its
// fingerprint must be one of those the operator accepts (config), or nothing is installed.
import { urlEgress, type Egress } from "./egress";
import { indent } from "./shell";

export interface AptRepository {
  /** The keyring and list file name: "hashicorp", "grafana". */
  name: string;
  /** Who publishes it, for the error message: "HashiCorp". */
  publisher: string;
  /** Where the key is downloaded from (armoured or binary). */
  keyUrl: string;
  /** The repository URL and suite; `$VERSION_CODENAME` (from os-release) may appear: "https://apt.grafana.com stable main". */
  source: string;
  /** Accepted primary-key fingerprints (40 upper-case hex digits). */
  fingerprints: readonly string[];
}

export const keyringOf = (r: AptRepository) => `/usr/share/keyrings/${r.name}-archive-keyring.gpg`;

/**
 * Shell that downloads the key, refuses it unless its one primary key has an accepted fingerprint, and writes the
 * source list. Paths carry $ROOT; the caller runs `apt-get update` and installs afterwards.
 */
export function renderAddAptRepository(r: AptRepository): string {
  if (!/^[a-z0-9-]+$/.test(r.name)) throw new Error(`renderAddAptRepository: invalid name ${JSON.stringify(r.name)}`);
  if (r.fingerprints.length === 0 || r.fingerprints.some((f) => !/^[0-9A-F]{40}$/.test(f))) {
    throw new Error(`renderAddAptRepository: ${r.name}: expected 40-digit upper-case hex fingerprints`);
  }
  const keyring = keyringOf(r);
  return `apt-get install -y -q ca-certificates curl gpg
keyring="$ROOT${keyring}"
curl -fsSL ${r.keyUrl} | gpg --batch --yes --dearmor -o "$keyring"
# Exactly one primary key, and its fingerprint one of the accepted ones.
primary="$(gpg --batch --no-default-keyring --keyring "$keyring" --with-colons --fingerprint | awk -F: '$1 == "pub" { n++; want = 1; next } $1 == "fpr" && want { print $10; want = 0 } END { if (n != 1) print "more-than-one-key" }')"
case " ${r.fingerprints.join(" ")} " in
  *" $primary "*) ;;
  *) rm -f "$keyring"
     echo "${r.publisher}'s apt key has the fingerprint $primary, not one of ${r.fingerprints.join(", ")}: refusing to install" >&2
     exit 1 ;;
esac
. "$ROOT/etc/os-release"
echo "deb [signed-by=${keyring}] ${r.source}" > "$ROOT/etc/apt/sources.list.d/${r.name}.list"
`;
}

/** Packages from a third-party repository, pinned and held; `changed=1` when anything was installed. */
export function pinnedInstall(repository: AptRepository, packages: Record<string, string>): string {
  const wanted = Object.entries(packages).map(([p, v]) => `${p}=${v}`);
  const check = Object.entries(packages)
    .map(([p, v]) => `[ "$(dpkg-query -W -f='\${Version}' ${p} 2>/dev/null)" = "${v}" ]`)
    .join(" && ");
  return `if ! { ${check}; }; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
${indent(renderAddAptRepository(repository))}  apt-get update -q
  apt-mark unhold ${Object.keys(packages).join(" ")} >/dev/null 2>&1 || true
  apt-get install -y -q --no-install-recommends --allow-downgrades ${wanted.join(" ")}
  apt-mark hold ${Object.keys(packages).join(" ")} >/dev/null
  changed=1
fi
`;
}

/** What adding and using the repository contacts: its key's host and its own. */
export function aptRepositoryEgress(r: AptRepository, who: string): Egress[] {
  const what = `${who}: ${r.publisher}'s apt repository`;
  return [urlEgress(what, r.keyUrl), urlEgress(what, r.source.split(" ")[0])];
}
