// The environment VMs' SSH, stood in for inside the engine test's network namespace: the GPU VMs' addresses are put on
// its loopback and an SSH server (ssh2's) answers there, as the VM's admin user, every command with the first-boot
// check's "ready" — so that the FirstBoot resources (the real provider, run by the real engine) complete and what
// depends on them is created. Whether a real first boot is over is the guests suite's (test/guests/gpu-vm.test.ts).
import { execFileSync } from "node:child_process";
import { Server } from "ssh2";
import { ADMIN_USER } from "../../lib/cloud-init";
import { tool } from "../helpers/process";
import { ed25519KeyPair } from "../helpers/ssh-keys";

export interface FirstBootStandIn {
  /** How many check runs it answered. */
  answered(): number;
  close(): Promise<void>;
}

/** Listens on `port` (22) of each address; one outside 127.0.0.0/8 is first put on the loopback (a namespace's own). */
export async function startFirstBootStandIn(addresses: string[], port = 22): Promise<FirstBootStandIn> {
  for (const a of addresses) if (!a.startsWith("127.")) execFileSync(tool("ip"), ["addr", "add", `${a}/32`, "dev", "lo"]);
  let answered = 0;
  const hostKey = ed25519KeyPair().private;
  const serve = (address: string) =>
    new Promise<Server>((resolve, reject) => {
      const server = new Server({ hostKeys: [hostKey] }, (client) => {
        client
          .on("authentication", (ctx) => (ctx.username === ADMIN_USER && ctx.method === "publickey" ? ctx.accept() : ctx.reject(["publickey"])))
          .on("ready", () =>
            client.on("session", (accept) =>
              accept().once("exec", (acceptExec) => {
                const stream = acceptExec();
                stream.on("data", () => undefined);
                stream.on("end", () => {
                  answered++;
                  stream.write("ready engine-test-stand-in\n");
                  stream.exit(0);
                  stream.end();
                });
              }),
            ),
          )
          .on("error", () => undefined);
      });
      server.once("error", reject).listen(port, address, () => resolve(server));
    });
  const servers = await Promise.all(addresses.map(serve));
  return { answered: () => answered, close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined) };
}
