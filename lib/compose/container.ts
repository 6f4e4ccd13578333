// What every container of a compose project gets, whoever creates it (ComposeStack on the engine, the Compose file
// `dualstack compose` prints): Compose's own container name, json-file logs rotated at 3 × 50 MB, and no privilege
// escalation inside the container.

/** Compose's name for a service's (only) container: `docker compose -p <project>` finds it. */
export const containerName = (project: string, service: string) => `${project}-${service}-1`;

export const CONTAINER_LOGGING = { driver: "json-file", options: { "max-size": "50m", "max-file": "3" } } as const;

export const CONTAINER_SECURITY_OPTS = ["no-new-privileges:true"] as const;
