/**
 * The demo's network: a hub namespace with one veth link to each of two spoke namespaces.
 * Underlay addresses come from 198.18.0.0/15 (RFC 2544 benchmarking), and spokes cannot
 * reach each other except through the tunnel, relayed by the hub.
 */
import type { Cleanup } from "./cleanup.js";
import { run } from "./exec.js";

/** One spoke: its namespace, its underlay address and the hub's address on their link. */
export interface SpokeNet {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  readonly hubAddress: string;
}

/** The namespaces and addresses of one demo run. */
export interface Topology {
  readonly hubNs: string;
  readonly spokes: readonly SpokeNet[];
}

/** Namespace names for run `id` (the pid by default), unique on the machine. */
export function namespaceNames(id: number): string[] {
  return [`tt-demo-hub-${id}`, `tt-demo-a-${id}`, `tt-demo-b-${id}`];
}

/**
 * Creates the namespaces and links, registering each namespace's removal in `cleanup`
 * (which also removes the veth ends in it), so a failure half-way leaves nothing behind
 * once the cleanup runs.
 */
export async function createTopology(id: number, cleanup: Cleanup, signal?: AbortSignal): Promise<Topology> {
  const [hubNs, aNs, bNs] = namespaceNames(id);
  // Checked between commands, never during one: each creation completes and is registered.
  const ip = (...args: string[]) => (signal?.throwIfAborted(), run("ip", args));
  for (const ns of [hubNs, aNs, bNs]) {
    await ip("netns", "add", ns);
    // Registered only once created: a name that already existed is not ours to delete.
    cleanup.defer(`delete namespace ${ns}`, () => deleteNamespace(ns));
    await ip("-n", ns, "link", "set", "lo", "up");
  }
  // The hub must relay in user space: with forwarding off, the kernel cannot do it for us.
  await ip("netns", "exec", hubNs, "sysctl", "-qw", "net.ipv4.ip_forward=0");
  const spokes: SpokeNet[] = [];
  for (const [i, [name, ns]] of [["a", aNs], ["b", bNs]].entries()) {
    const subnet = `198.18.${i + 1}`;
    // Interface names are at most 15 characters: "tt" + pid (7 digits at most) + 2.
    const hubSide = `tt${id}h${name}`;
    const spokeSide = `tt${id}s${name}`;
    await ip("-n", hubNs, "link", "add", hubSide, "type", "veth", "peer", "name", spokeSide, "netns", ns);
    await ip("-n", hubNs, "addr", "add", `${subnet}.1/24`, "dev", hubSide);
    await ip("-n", ns, "addr", "add", `${subnet}.2/24`, "dev", spokeSide);
    await ip("-n", hubNs, "link", "set", hubSide, "up");
    await ip("-n", ns, "link", "set", spokeSide, "up");
    spokes.push({ name, ns, address: `${subnet}.2`, hubAddress: `${subnet}.1` });
  }
  return { hubNs, spokes };
}

/** Deletes a namespace (and the veth ends in it); a namespace already gone is fine. */
export async function deleteNamespace(ns: string): Promise<void> {
  const list = await run("ip", ["netns", "list"]);
  if (list.split("\n").some((l) => l.split(" ")[0] === ns)) await run("ip", ["netns", "del", ns]);
}
