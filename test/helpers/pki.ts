// A real certificate authority and server certificates for the TLS tests, made by the openssl CLI the way the
// program's CertificateAuthority makes them (ECDSA P-256 CA with path length 0, server certificates with IP and DNS
// names): the servers under test (redis-server, caddy) load them and the clients verify them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tool } from "./process";

export interface TestCa {
  certPem: string;
  /** A server certificate for these addresses and names, signed by this CA. */
  issue(commonName: string, names: { ip?: string[]; dns?: string[] }): { certPem: string; keyPem: string };
  remove(): void;
}

export function makeTestCa(commonName = "test CA"): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "pki-"));
  const openssl = (args: string[]) => execFileSync(tool("openssl"), args, { cwd: dir, stdio: "pipe" });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl([
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    `/CN=${commonName}`,
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  let n = 0;
  return {
    certPem: readFileSync(join(dir, "ca.crt"), "utf8"),
    issue(cn, names) {
      const id = `srv${n++}`;
      const san = [...(names.ip ?? []).map((i) => `IP:${i}`), ...(names.dns ?? []).map((d) => `DNS:${d}`)].join(",");
      writeFileSync(join(dir, `${id}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
      openssl(["req", ...ecKey, "-keyout", `${id}.key`, "-out", `${id}.csr`, "-subj", `/CN=${cn}`]);
      openssl([
        "x509",
        "-req",
        "-in",
        `${id}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${id}.crt`,
        "-days",
        "2",
        "-extfile",
        `${id}.ext`,
      ]);
      return { certPem: readFileSync(join(dir, `${id}.crt`), "utf8"), keyPem: readFileSync(join(dir, `${id}.key`), "utf8") };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
