/** Traffic checks shared by the scenarios: ping and a TCP transfer verified by SHA-256. */
import { type Lab, waitFor } from "./netns.js";

const TCP_CHECK = new URL("./tcp-check.mjs", import.meta.url).pathname;

/** Pings `addr` from `ns` until one echo returns (a handshake may come first), then `count` more. */
export async function pingOk(lab: Lab, ns: string, addr: string, count = 3): Promise<string> {
  await waitFor(`first ping ${addr} from ${ns}`, 15_000, () =>
    lab.exec(ns, ["ping", "-c", "1", "-W", "1", addr]).includes(" 1 received") ? true : undefined,
  );
  return lab.exec(ns, ["ping", "-c", String(count), "-i", "0.2", "-W", "2", addr]);
}

/**
 * Starts sending `bytes` random bytes over TCP from `clientNs` to `addr` in `serverNs`;
 * resolves, once the transfer is under way, to a promise of both SHA-256 digests: what was
 * sent, and what the server says it received.
 */
export async function startTransfer(
  lab: Lab,
  serverNs: string,
  clientNs: string,
  addr: string,
  bytes: number,
  port = 5201,
): Promise<Promise<{ sent: string; received: string }>> {
  const server = lab.spawn(serverNs, ["node", TCP_CHECK, "server", addr, String(port)]);
  await waitFor("tcp-check server", 5000, () => (server.output().includes("listening") ? true : undefined));
  const client = lab.spawn(clientNs, ["node", TCP_CHECK, "client", addr, String(port), String(bytes)]);
  return client.exited.then((code) => {
    if (code !== 0) throw new Error(`tcp-check client exited ${code}: ${client.output()}`);
    return JSON.parse(client.output().trim().split("\n").pop() ?? "{}");
  });
}

/** {@link startTransfer}, awaited to the end. */
export async function verifiedTransfer(
  lab: Lab,
  serverNs: string,
  clientNs: string,
  addr: string,
  bytes: number,
  port = 5201,
): Promise<{ sent: string; received: string }> {
  return await startTransfer(lab, serverNs, clientNs, addr, bytes, port);
}
