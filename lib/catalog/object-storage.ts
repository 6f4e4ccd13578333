// MinIO object storage with a user and policy per consumer (Langfuse's event bucket, Rclone's jobs, your buckets),
// created by a one-shot setup job; Rclone sync jobs between MinIO and remotes of your own (off-site copies).
import { z } from "zod";
import { healthcheck, type ServiceSpec } from "../compose/spec";
import { duration, oneOf, pattern } from "../config/fields";
import { gatewayPort, image, limits } from "./fields";
import { SERVICE_BASE, httpCheck, type CatalogEntry, type ServiceContext } from "./types";

/** A consumer's MinIO credentials: its user name and the compose secret holding its key. */
export const minioUser = (consumer: string) => ({ user: consumer, secret: `minio-user-${consumer}` });

const bucketName = pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name such as "documents"');
const minioSchema = z.strictObject({
  // From quay.io: Docker Hub no longer serves MinIO's images, and the community edition is source-only since
  // October 2025 (minio/minio#21647), so no published image has the RELEASE.2025-10-15 security fix: build your own
  // from source for an internet-facing MinIO and set it here.
  image: image("quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"),
  mcImage: image("quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z"),
  /** Buckets created for your own apps (Langfuse's and Rclone's are added when those are enabled). */
  buckets: z.array(bucketName).default([]),
  apiPort: gatewayPort(9000),
  consolePort: gatewayPort(9001),
  ...limits(2048, 2),
});
type MinioConfig = z.infer<typeof minioSchema>;

/** remote:path — "minio:<bucket>/<prefix>" or a remote of your rclone.conf (secret config rcloneConfig). */
const location = (example: string) => pattern(/^[A-Za-z0-9_-]+:[A-Za-z0-9._/-]*$/, `an rclone location such as "${example}"`);
const jobSchema = z.strictObject({
  name: pattern(/^[a-z][a-z0-9-]{0,30}$/, 'a job name such as "offsite-documents"'),
  from: location("minio:documents"),
  to: location("offsite:ai-dualstack/documents"),
  mode: oneOf(["sync", "copy"]).default("copy"),
  every: duration.default("6h"),
});
const rcloneSchema = z.strictObject({
  image: image("rclone/rclone:1.71.1"),
  jobs: z.array(jobSchema).min(1, { error: () => 'expected at least one job such as { name: offsite, from: "minio:documents", to: "offsite:documents" }' }),
  ...limits(512, 1),
});
export type RcloneConfig = z.infer<typeof rcloneSchema>;

const remoteOf = (location: string) => location.split(":")[0];
const bucketOf = (location: string) => location.split(":")[1].split("/")[0];
/** Whether the jobs need remotes beyond MinIO, which come from the secret config rcloneConfig. */
export const rcloneNeedsConfig = (c: RcloneConfig | undefined) => (c?.jobs ?? []).some((j) => [j.from, j.to].some((l) => remoteOf(l) !== "minio"));
export const RCLONE_CONFIG_MATERIAL = "rclone-config";
const usesMinio = (c: RcloneConfig) => c.jobs.some((j) => [j.from, j.to].some((l) => remoteOf(l) === "minio"));

/** Who gets a MinIO user, with which buckets: the consumers enabled beside it. */
function consumers(ctx: Pick<ServiceContext, "enabled">): { user: string; buckets: string[] }[] {
  const out: { user: string; buckets: string[] }[] = [];
  if ("langfuse" in ctx.enabled) out.push({ user: "langfuse", buckets: ["langfuse"] });
  const rclone = ctx.enabled.rclone as RcloneConfig | undefined;
  if (rclone)
    out.push({
      user: "rclone",
      buckets: [
        ...new Set(
          rclone.jobs
            .flatMap((j) => [j.from, j.to])
            .filter((l) => remoteOf(l) === "minio")
            .map(bucketOf),
        ),
      ],
    });
  return out;
}

const policy = (buckets: string[]) =>
  JSON.stringify(
    {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
          Resource: buckets.map((b) => `arn:aws:s3:::${b}`),
        },
        {
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
          Resource: buckets.map((b) => `arn:aws:s3:::${b}/*`),
        },
      ],
    },
    null,
    2,
  );

export const minio: CatalogEntry<MinioConfig> = {
  key: "minio",
  title: "MinIO object storage",
  tier: 3,
  environments: ["private", "public"],
  schema: minioSchema,
  needs: () => [],
  render: (c, ctx) => {
    const users = consumers(ctx);
    const buckets = [...new Set([...c.buckets, ...users.flatMap((u) => u.buckets)])].sort();
    const envName = (user: string) => `MINIO_USER_${user.toUpperCase().replace(/-/g, "_")}`;
    const script = [
      "#!/bin/sh",
      "# Managed by ai-dualstack: MinIO's buckets, and a user per consumer confined to its buckets. Idempotent.",
      "set -eu",
      "i=0; until mc ready local >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 60 ] || { echo 'minio did not become ready' >&2; exit 1; }; sleep 2; done",
      ...buckets.map((b) => `mc mb --ignore-existing local/${b}`),
      ...users.flatMap((u) => [
        `mc admin user add local ${u.user} "$${envName(u.user)}" >/dev/null`,
        `mc admin policy create local ai-dualstack-${u.user} /setup/${u.user}.json >/dev/null`,
        `mc admin policy entities local --user ${u.user} | grep -q ai-dualstack-${u.user} || mc admin policy attach local ai-dualstack-${u.user} --user ${u.user} >/dev/null`,
      ]),
      `echo "minio: ${buckets.length} buckets, ${users.length} users ready"`,
      "",
    ].join("\n");
    const services: ServiceSpec[] = [
      {
        ...SERVICE_BASE,
        name: "minio",
        image: c.image,
        command: ["server", "/data", "--console-address", ":9001"],
        environment: {
          MINIO_ROOT_USER: "admin",
          MINIO_ROOT_PASSWORD: { secret: "minio-root-password" },
          MINIO_BROWSER_REDIRECT_URL: `https://${ctx.guestIp}:${c.consolePort}`,
        },
        volumes: [{ volume: "minio-data", path: "/data" }],
        healthcheck: httpCheck("curl", "http://localhost:9000/minio/health/live", "30s"),
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
      {
        ...SERVICE_BASE,
        name: "minio-setup",
        image: c.mcImage,
        entrypoint: ["/bin/sh", "/setup/setup.sh"],
        environment: {
          MC_HOST_local: { template: "http://admin:{{minio-root-password}}@minio:9000" },
          ...Object.fromEntries(users.map((u) => [envName(u.user), { secret: minioUser(u.user).secret }])),
        },
        files: [{ path: "/setup/setup.sh", content: script }, ...users.map((u) => ({ path: `/setup/${u.user}.json`, content: policy(u.buckets) }))],
        restart: "no",
        oneShot: true,
        dependsOnHealthy: ["minio"],
        memoryMiB: 128,
        cpus: 0.5,
      },
    ];
    return {
      services,
      volumes: ["minio-data"],
      routes: [
        { service: "minio", port: c.apiPort, upstream: "minio:9000" },
        { service: "minio-console", port: c.consolePort, upstream: "minio:9001" },
      ],
      sites: [],
      vault: { S3_ENDPOINT: "http://minio:9000", ROOT_USER: "admin", ROOT_PASSWORD: { template: "{{minio-root-password}}" }, BUCKETS: buckets.join(",") },
    };
  },
};

const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[d.slice(-1) as "s" | "m" | "h"];
const STATE = "/state";

/** The sync loop: each job when it is due, its last success recorded; the healthcheck reads those records. */
export function renderSyncScript(c: RcloneConfig): string {
  const lines = c.jobs.flatMap((j) => [
    `  due ${j.name} ${seconds(j.every)} && { rclone ${j.mode} '${j.from}' '${j.to}' --stats-one-line --stats 0 && date +%s > ${STATE}/${j.name}.ok || echo "rclone: job ${j.name} failed" >&2; date +%s > ${STATE}/${j.name}.tried; }`,
  ]);
  return [
    "#!/bin/sh",
    "# Managed by ai-dualstack: Rclone sync jobs, each when it is due.",
    "set -u",
    `mkdir -p ${STATE}`,
    `due() { last=$(cat ${STATE}/$1.tried 2>/dev/null || echo 0); [ $(( $(date +%s) - last )) -ge $2 ]; }`,
    "while :; do",
    ...lines,
    "  sleep 60",
    "done",
    "",
  ].join("\n");
}

/** Healthy while every job has succeeded within twice its interval (plus the first run's grace). */
export function renderSyncHealth(c: RcloneConfig): string {
  return [
    "#!/bin/sh",
    "now=$(date +%s)",
    ...c.jobs.map(
      (j) =>
        `[ $(( now - $(cat ${STATE}/${j.name}.ok 2>/dev/null || stat -c %Y /proc/1) )) -le ${2 * seconds(j.every) + 600} ] || { echo "job ${j.name} has not succeeded lately"; exit 1; }`,
    ),
    "exit 0",
    "",
  ].join("\n");
}

export const rclone: CatalogEntry<RcloneConfig> = {
  key: "rclone",
  title: "Rclone sync jobs",
  tier: 3,
  environments: ["private", "public"],
  schema: rcloneSchema,
  needs: (c) => (usesMinio(c) ? [{ what: "minio", why: "its jobs read or write minio: locations" }] : []),
  check: (c) =>
    c.jobs.flatMap((j, i) => (j.from === j.to ? [[["jobs", String(i), "to"], "expected a destination other than the source"] as [string[], string]] : [])),
  render: (c) => {
    const s3 = minioUser("rclone");
    const needsConfig = rcloneNeedsConfig(c);
    return {
      services: [
        {
          ...SERVICE_BASE,
          name: "rclone",
          image: c.image,
          entrypoint: ["/bin/sh", "/etc/ai-dualstack/sync.sh"],
          environment: {
            RCLONE_CONFIG: "/config/rclone/rclone.conf",
            RCLONE_CONFIG_MINIO_TYPE: "s3",
            RCLONE_CONFIG_MINIO_PROVIDER: "Minio",
            RCLONE_CONFIG_MINIO_ENDPOINT: "http://minio:9000",
            RCLONE_CONFIG_MINIO_ACCESS_KEY_ID: s3.user,
            RCLONE_CONFIG_MINIO_SECRET_ACCESS_KEY: { secret: s3.secret },
          },
          volumes: [{ volume: "rclone-state", path: STATE }],
          files: [
            { path: "/etc/ai-dualstack/sync.sh", content: renderSyncScript(c) },
            { path: "/etc/ai-dualstack/health.sh", content: renderSyncHealth(c) },
            ...(needsConfig
              ? [{ path: "/config/rclone/rclone.conf", material: RCLONE_CONFIG_MATERIAL }]
              : [{ path: "/config/rclone/rclone.conf", content: "# Managed by ai-dualstack: the minio remote comes from the environment.\n" }]),
          ],
          healthcheck: healthcheck(["CMD", "/bin/sh", "/etc/ai-dualstack/health.sh"], "300s"),
          // Its MinIO user exists once the setup job has run.
          dependsOnHealthy: usesMinio(c) ? ["minio-setup"] : [],
          memoryMiB: c.memoryMiB,
          cpus: c.cpus,
        },
      ],
      volumes: ["rclone-state"],
      routes: [],
      sites: [],
      vault: {},
    };
  },
};
