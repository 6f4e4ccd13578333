// A dynamic provider that completes when a VM's first boot is over (lib/first-boot.ts): it logs in over SSH (ssh2)
// again and again — while the guest boots, installs its packages and reboots, a refused or dropped connection is
// only a reason to try again — and runs the check until it says ready, fails with cloud-init's own report, or the
// deadline passes. The compose stack and the model deployments depend on it, so nothing uses Docker before.
//
// Serialisation rules (DESIGN.md): nothing captured from a module imported at the top; ssh2 is required inside.
import * as pulumi from "@pulumi/pulumi";
import { parseFirstBootCheck } from "../../lib/first-boot";

export interface FirstBootArgs {
  host: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user: pulumi.Input<string>;
  /** The key the VM's admin user logs in with (secret); the SSH agent (SSH_AUTH_SOCK) when absent. */
  privateKey?: pulumi.Input<string>;
  /** The check to run (lib/first-boot.ts renderFirstBootCheck). */
  check: pulumi.Input<string>;
  timeoutSeconds: pulumi.Input<number>;
  /** What makes it a new first boot: the VM's user-data snippet (a new one is a new VM). */
  trigger: pulumi.Input<string>;
}

export interface FirstBootInputs {
  host: string;
  port?: number;
  user: string;
  privateKey?: string;
  check: string;
  timeoutSeconds: number;
  trigger: string;
  /** Between attempts (default 5 s; tests shorten it). */
  pollSeconds?: number;
}

export interface FirstBootOutputs extends FirstBootInputs {
  bootId: string;
  /** What it waited on, in order, without repeats ("cloud-init", "reboot", "docker"). */
  waitedOn: string[];
}

/** Runs `script` with bash over one SSH connection; rejects when the connection cannot be made or breaks. */
function runOverSsh(inputs: FirstBootInputs, script: string): Promise<string> {
  const { Client } = require("ssh2") as typeof import("ssh2");
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let out = "";
    conn
      .on("ready", () =>
        conn.exec("bash -s", (err, stream) => {
          if (err) return (conn.end(), reject(err));
          stream.on("data", (d: Buffer) => (out += d.toString()));
          stream.stderr.on("data", () => undefined);
          stream.on("close", () => (conn.end(), resolve(out)));
          stream.end(script);
        }),
      )
      .on("error", reject)
      .connect({
        host: inputs.host,
        port: inputs.port ?? 22,
        username: inputs.user,
        ...(inputs.privateKey ? { privateKey: inputs.privateKey } : { agent: process.env.SSH_AUTH_SOCK }),
        readyTimeout: 20_000,
      });
  });
}

async function waitForFirstBoot(inputs: FirstBootInputs): Promise<FirstBootOutputs> {
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  const where = `${inputs.user}@${inputs.host}${inputs.port && inputs.port !== 22 ? `:${inputs.port}` : ""}`;
  const waitedOn: string[] = [];
  let last = "no answer yet";
  // A key that cannot be read will not become readable: fail now, not at the deadline (and never show the key).
  if (inputs.privateKey !== undefined) {
    const { utils } = require("ssh2") as typeof import("ssh2");
    const parsed = utils.parseKey(inputs.privateKey);
    if (parsed instanceof Error) throw new Error(`the SSH key for ${where} cannot be read: ${parsed.message}`);
  }
  for (;;) {
    let output: string | undefined;
    try {
      output = await runOverSsh(inputs, inputs.check);
    } catch (err) {
      last = `no SSH session (${(err as Error).message})`;
    }
    if (output !== undefined) {
      const state = parseFirstBootCheck(output);
      if (state.state === "ready") return { ...inputs, bootId: state.bootId, waitedOn };
      if (state.state === "failed") throw new Error(`the first boot of ${where} failed: cloud-init reports an error\n${state.report}`);
      if (waitedOn[waitedOn.length - 1] !== state.on) waitedOn.push(state.on);
      last = `waiting on ${state.on}`;
    }
    if (Date.now() > deadline) throw new Error(`the first boot of ${where} is not over after ${inputs.timeoutSeconds} s (last: ${last})`);
    await new Promise((r) => setTimeout(r, (inputs.pollSeconds ?? 5) * 1000));
  }
}

export const firstBootProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: FirstBootInputs, news: FirstBootInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.host !== "string" || news.host === "") failures.push({ property: "host", reason: "expected the VM's address" });
    if (!(Number(news.timeoutSeconds) > 0)) failures.push({ property: "timeoutSeconds", reason: "expected a positive number of seconds" });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: FirstBootOutputs, news: FirstBootInputs) {
    // A new VM (a new user-data, another address) has a first boot of its own; the rest changes nothing.
    const replaces = (["host", "trigger"] as const).filter((k) => olds[k] !== news[k]);
    const changes = replaces.length > 0 || (["port", "user", "check", "timeoutSeconds"] as const).some((k) => olds[k] !== news[k]);
    return { changes, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: FirstBootInputs) {
    const outs = await waitForFirstBoot(inputs);
    return { id: `${inputs.host}:${outs.bootId}`, outs };
  },

  async update(_id: string, olds: FirstBootOutputs, news: FirstBootInputs) {
    return { outs: { ...news, bootId: olds.bootId, waitedOn: olds.waitedOn } };
  },

  // The boot is history: reading it again would only wait on a running VM.
  async read(id: string, props: FirstBootOutputs) {
    return { id, props };
  },

  async delete() {},
};

/** The first boot of one VM, over. Type token: pulumi-nodejs:dynamic/guest:FirstBoot. */
export class FirstBoot extends pulumi.dynamic.Resource {
  declare public readonly bootId: pulumi.Output<string>;

  constructor(name: string, args: FirstBootArgs, opts?: pulumi.CustomResourceOptions) {
    super(firstBootProvider, name, { ...args, bootId: undefined, waitedOn: undefined }, opts, "guest", "FirstBoot");
  }
}
