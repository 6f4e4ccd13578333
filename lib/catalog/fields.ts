// Config fields every catalog entry shares: its image (pinned default), resources, the operators' port and the public
// site, and — for apps — where the image comes from.
import { z } from "zod";
import { bool, dnsName, expecting, hostPort, imageRef, pattern, wholeNumber } from "../config/fields";

export const image = (pinned: string) => imageRef.default(pinned);
export const memoryMiB = (d: number) => wholeNumber(64, 1_048_576, "MiB").default(d);
export const cpus = (d: number) =>
  z
    .number(expecting("a number of CPU cores from 0.1 to 256"))
    .min(0.1, expecting("a number of CPU cores from 0.1 to 256"))
    .max(256, expecting("a number of CPU cores from 0.1 to 256"))
    .default(d);
/** A service's memory and CPU limits, with its defaults. */
export const limits = (mib: number, cores: number) => ({ memoryMiB: memoryMiB(mib), cpus: cpus(cores) });
/** The port the guest's TLS gateway publishes it on, to the operators' network. */
export const gatewayPort = (d: number) => hostPort.default(d);
export const hostname = dnsName;
export const auth = bool;

/** A relative path inside the repository (a build context): no "..", no absolute path. */
export const repoPath = pattern(/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+$/, 'a directory of this repository such as "apps/my-api" (relative, no "..")');
export const build = z.strictObject({
  context: repoPath,
  dockerfile: pattern(/^[A-Za-z0-9._/-]+$/, 'a Dockerfile name such as "Dockerfile"').default("Dockerfile"),
  args: z.record(pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, "a build argument name"), z.string()).default({}),
});
/** Plain (non-secret) environment variables an app gets on top of its wiring. */
export const plainEnvironment = z
  .record(pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as "LOG_LEVEL"'), z.string(expecting("a string value")))
  .default({});
export const command = z.array(z.string(expecting("a command argument"))).min(1, expecting('a command such as ["uvicorn", "app:app"]'));
/** A service or app name inside an environment: a DNS label. */
export const serviceName = pattern(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'a lower-case name such as "docs-api" (a-z, 0-9, -)');
export const version = pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a version tag such as "1.4.0"').refine(
  (v) => v !== "latest",
  expecting("an explicit version, not latest"),
);
export const healthPath = pattern(/^\/[A-Za-z0-9._~/-]*$/, 'an HTTP path such as "/health"');
