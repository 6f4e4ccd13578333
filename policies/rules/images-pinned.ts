import type { Rule } from "../support/policy";
import { DOCKER_IMAGE } from "../support/types";

function registryOf(image: string): string {
  const first = image.split("/")[0];
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

export const imagesPinned: Rule = (t) => ({
  name: "images-pinned",
  description: `Container images come from the allowed registries (${t.registries.join(", ")}) with an explicit version tag or digest, never latest.`,
  reason: "An unpinned image changes under you; an unknown registry is an unknown supply chain.",
  source: "security-and-dr.md rule 21; Checkov CKV_K8S_43, CKV_DOCKER_7",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== DOCKER_IMAGE) return;
    const image = String(args.props.name ?? "");
    const registry = registryOf(image);
    if (!t.registries.includes(registry)) report(`${args.name}: ${image} comes from ${registry}, not one of ${t.registries.join(", ")}`);
    const withoutRegistry = image.includes("@") ? image.split("@")[0] : image.slice(image.indexOf("/") + 1);
    const tag = image.includes("@sha256:") ? "digest" : withoutRegistry.includes(":") ? withoutRegistry.split(":").pop() : undefined;
    if (!tag) report(`${args.name}: ${image} has no tag (it would be latest)`);
    else if (tag === "latest") report(`${args.name}: ${image} uses the latest tag`);
  },
});
