// Gitea with an Actions runner: the platform's CI/CD, in Docker inside the cicd LXC. Gitea serves TLS itself with a
// certificate from the platform CA, on the container's own address; SQLite in its volume (no database server on the
// platform); sign-up off, sign-in required; the runner registers with a shared token Gitea is started with. The
// runner starts the jobs' containers on the LXC's engine: the unprivileged LXC is the jobs' boundary.
import { z } from "zod";
import { bool, hostPort } from "../config/fields";
import { cpus, image, memoryMiB } from "./fields";
import { healthcheck, type ServiceSpec } from "../compose/spec";
import { SERVICE_BASE, CA_FILE, CA_MATERIAL, type CatalogEntry } from "./types";

const schema = z.strictObject({
  image: image("gitea/gitea:1.24.6"),
  runnerImage: image("gitea/act_runner:0.2.13"),
  runner: bool.default(true),
  httpsPort: hostPort.default(3000),
  sshPort: hostPort.default(2222),
  /** Job labels: name:docker://image (the images jobs run in). */
  runnerLabels: z
    .array(
      z.string().regex(/^[a-z0-9][a-z0-9._-]*:docker:\/\/[a-z0-9][a-z0-9_./:-]*:[A-Za-z0-9._-]+$/, {
        error: () => 'expected a label such as "debian-bookworm:docker://debian:bookworm-slim"',
      }),
    )
    .min(1)
    .default(["debian-bookworm:docker://debian:bookworm-slim", "ubuntu-24.04:docker://ubuntu:24.04"]),
  memoryMiB: memoryMiB(1024),
  runnerMemoryMiB: memoryMiB(2048),
  cpus: cpus(2),
});
type GiteaConfig = z.infer<typeof schema>;

/** Key material the host stack supplies: Gitea's certificate and key from the platform CA. */
export const GITEA_TLS = { cert: "gitea-cert", key: "gitea-key" } as const;
const ADMIN = "ops";

export const gitea: CatalogEntry<GiteaConfig> = {
  key: "gitea",
  title: "Gitea with an Actions runner (platform CI/CD)",
  tier: 2,
  environments: ["host"],
  schema,
  needs: () => [],
  render: (c, ctx) => {
    const cfg = "/data/gitea/conf/app.ini";
    const admin = [
      "set -eu",
      `if su-exec git gitea --config ${cfg} admin user list --admin | awk 'NR>1 {print $2}' | grep -qx ${ADMIN}; then echo "gitea: administrator ${ADMIN} exists"; exit 0; fi`,
      `su-exec git gitea --config ${cfg} admin user create --admin --username ${ADMIN} --email ${ADMIN}@localhost --password "$GITEA_ADMIN_PASSWORD" --must-change-password=false`,
    ].join("\n");
    const base = SERVICE_BASE;
    const services: ServiceSpec[] = [
      {
        ...base,
        name: "gitea",
        image: c.image,
        environment: {
          USER_UID: "1000",
          USER_GID: "1000",
          GITEA__server__PROTOCOL: "https",
          GITEA__server__HTTP_PORT: "3000",
          GITEA__server__CERT_FILE: "/etc/ai-dualstack/gitea.crt",
          GITEA__server__KEY_FILE: "/etc/ai-dualstack/gitea.key",
          GITEA__server__DOMAIN: ctx.guestIp,
          GITEA__server__ROOT_URL: `https://${ctx.guestIp}:${c.httpsPort}/`,
          GITEA__server__START_SSH_SERVER: "true",
          GITEA__server__SSH_DOMAIN: ctx.guestIp,
          GITEA__server__SSH_PORT: String(c.sshPort),
          GITEA__server__SSH_LISTEN_PORT: "2222",
          GITEA__database__DB_TYPE: "sqlite3",
          GITEA__database__PATH: "/data/gitea/gitea.db",
          GITEA__security__INSTALL_LOCK: "true",
          GITEA__security__SECRET_KEY: { secret: "gitea-secret-key" },
          GITEA__security__INTERNAL_TOKEN: { secret: "gitea-internal-token" },
          GITEA__service__DISABLE_REGISTRATION: "true",
          GITEA__service__REQUIRE_SIGNIN_VIEW: "true",
          GITEA__actions__ENABLED: "true",
          GITEA__other__SHOW_FOOTER_VERSION: "false",
          GITEA_RUNNER_REGISTRATION_TOKEN: { secret: "gitea-runner-token" },
        },
        ports: [
          { container: 3000, host: c.httpsPort, bind: ctx.guestIp },
          { container: 2222, host: c.sshPort, bind: ctx.guestIp },
        ],
        volumes: [{ volume: "gitea-data", path: "/data" }],
        files: [
          { path: "/etc/ai-dualstack/gitea.crt", material: GITEA_TLS.cert },
          { path: "/etc/ai-dualstack/gitea.key", material: GITEA_TLS.key },
          { path: CA_FILE, material: CA_MATERIAL },
        ],
        healthcheck: healthcheck(["CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", CA_FILE, "https://gitea:3000/api/healthz"], "60s"),
        dependsOnHealthy: [],
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
      {
        ...base,
        name: "gitea-admin",
        image: c.image,
        entrypoint: ["/bin/sh", "-c", admin],
        environment: { GITEA_ADMIN_PASSWORD: { secret: "gitea-admin-password" } },
        ports: [],
        volumes: [{ volume: "gitea-data", path: "/data" }],
        restart: "no",
        oneShot: true,
        dependsOnHealthy: ["gitea"],
        memoryMiB: 256,
        cpus: 0.5,
      },
      ...(c.runner
        ? [
            {
              ...base,
              name: "gitea-runner",
              image: c.runnerImage,
              environment: {
                GITEA_INSTANCE_URL: "https://gitea:3000",
                GITEA_RUNNER_REGISTRATION_TOKEN: { secret: "gitea-runner-token" },
                GITEA_RUNNER_NAME: "platform-cicd",
                GITEA_RUNNER_LABELS: c.runnerLabels.join(","),
                // The platform CA beside the system's (Go reads every directory listed).
                SSL_CERT_DIR: "/etc/ssl/certs:/etc/ai-dualstack/certs",
              },
              ports: [],
              volumes: [{ volume: "gitea-runner-data", path: "/data" }],
              files: [{ path: "/etc/ai-dualstack/certs/platform-ca.pem", material: CA_MATERIAL }],
              dockerSocket: true,
              dependsOnHealthy: ["gitea"],
              memoryMiB: c.runnerMemoryMiB,
              cpus: c.cpus,
            },
          ]
        : []),
    ];
    return {
      services,
      volumes: ["gitea-data", ...(c.runner ? ["gitea-runner-data"] : [])],
      routes: [],
      sites: [],
      vault: {
        URL: `https://${ctx.guestIp}:${c.httpsPort}/`,
        ADMIN_USER: ADMIN,
        ADMIN_PASSWORD: { template: "{{gitea-admin-password}}" },
        RUNNER_TOKEN: { template: "{{gitea-runner-token}}" },
      },
    };
  },
};
