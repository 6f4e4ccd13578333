import { addressesIn, environmentOfStack, guestEnvironment, inAnyCidr } from "../support/guests";
import type { Rule } from "../support/policy";
import { CT, DOCKER_CONTAINER, DOCKER_IMAGE } from "../support/types";

/** The image's last path segment names a vector database (with or without a tag or digest). */
const VECTOR_DB_IMAGE = /(^|\/)(chroma|qdrant|weaviate|milvus)[^/]*$/;

export const dataServicesOwnEnvironment: Rule = (t) => ({
  name: "data-services-own-environment",
  description:
    "Each environment runs its own PostgreSQL, Redis and vector database, and the private one references nothing of the public zone (the other direction is no-private-endpoint-in-public).",
  reason: "PostgreSQL roles are global to a cluster and Redis databases are no security boundary: one shared instance would isolate nothing.",
  source: "security-and-dr.md rule 16; redis/redis#7368, #8099; postgresql.org database-roles",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const env = environmentOfStack(t, args.resources);
    if (env !== "private" && env !== "public") return;
    const own = (service: string) => args.resources.some((r) => r.type === CT && guestEnvironment(r.props) === env && (r.props.tags ?? []).includes(service));
    for (const service of ["postgres", "redis"]) if (!own(service)) report(`the ${env} environment runs no ${service} container of its own`);
    const images = args.resources.filter((r) => r.type === DOCKER_IMAGE).map((r) => String(r.props.name ?? ""));
    if (args.resources.some((r) => r.type === DOCKER_CONTAINER) && !images.some((i) => VECTOR_DB_IMAGE.test(i)))
      report(`the ${env} environment runs no vector database of its own`);
    if (env !== "private") return; // public → private references: no-private-endpoint-in-public
    const other = "public";
    for (const r of args.resources) {
      const hits = [...new Set(addressesIn(r.props).filter((a) => inAnyCidr(a, t.environments[other].cidrs)))];
      if (hits.length > 0) report(`${r.name} (${r.type}) references the ${other} zone's ${hits.join(", ")}`, r.urn);
    }
  },
});
