/**
 * Test support: a hub whose data plane (Datapath) runs on a FakeIo, with spokes a and b
 * (sessions up) and c (none yet), for the datapath tests.
 */
import { encodeLocal } from "@taltun/io-shim/address";
import { instantiateAead } from "../src/protocol/aead.js";
import { parseIp } from "../src/protocol/address.js";
import { sharedBuffer, MemoryLayout } from "../src/dataplane/memory-layout.js";
import { Datapath } from "../src/dataplane/datapath.js";
import { reserveWorkerRegions, workerRegionBytes } from "../src/dataplane/regions.js";
import { HandshakeRing, ringBytes } from "../src/dataplane/ring.js";
import { STAT, type StatName } from "../src/dataplane/stats.js";
import { FakeIo } from "./fake-io.js";
import { World, type Node } from "./harness.js";

export const MTU = 1420;

/**
 * A hub whose data plane runs on a FakeIo, with spokes a and b (sessions up) and c (none
 * yet); `udpGro`/`udpGso`: the hub's socket has those offloads.
 */
export function lab(ringSlots = 256, offload: { udpGro?: boolean; udpGso?: boolean } = {}) {
  const w = new World();
  const hub = w.addNode("hub", "100.64.0.1");
  const [a, b, c] = ["a", "b", "c"].map((n, i) => w.addNode(n, `100.64.0.${10 + i}`));
  for (const s of [a, b, c]) {
    w.connect(hub, s);
    // A spoke routes the whole tunnel network to the hub, which relays between spokes.
    s.device.addPeer({ publicKey: hub.publicKey, allowedIps: ["100.64.0.0/24"] });
  }
  for (const s of [a, b]) {
    w.apply(s, s.device.initiate(w.slotOf(s, hub), w.clock.now()));
    w.pump();
    w.sendData(s, hub, [new Uint8Array(0)]); // confirms the hub's keypair
    w.pump();
  }
  const size = workerRegionBytes(MTU) + ringBytes(ringSlots) + ringBytes(16) + 256;
  const at = w.reserve(size);
  const layout = new MemoryLayout(at, at + size);
  const regions = reserveWorkerRegions(layout, 0, MTU);
  const ring = new HandshakeRing(sharedBuffer(w.memory), layout.reserve("ring", ringBytes(ringSlots)), ringSlots);
  const priority = new HandshakeRing(sharedBuffer(w.memory), layout.reserve("priority", ringBytes(16)), 16);
  const io = new FakeIo(w.memory);
  let signals = 0;
  const path = new Datapath(
    {
      memory: w.memory, tables: hub.device.tables, aead: instantiateAead(w.memory, regions.scratch), regions, ring, priority,
      udpFd: 0, tunFd: 0, tunVnet: false, ...offload, mtu: MTU, localAddress: parseIp(hub.vip), signal: () => signals++, io,
    },
    hub.device.allowedIps.snapshot,
  );
  const stats = new Int32Array(sharedBuffer(w.memory), regions.stats, Object.keys(STAT).length);
  const stat = (name: StatName) => stats[STAT[name]];
  /** `s` sends `packets` to the hub, reaching it at local address record `local` (none: not reported). */
  const fromPeer = (s: Node, packets: Uint8Array[], local?: Uint8Array) => {
    for (const d of s.plane.seal(w.slotOf(s, hub), packets, w.clock.now())) io.udpIn.push({ bytes: d!, peer: s.endpoint, local });
  };
  /** What `s` makes of the datagrams the hub sent it. */
  const openedBy = (s: Node) =>
    io.udpOut.filter((d) => Buffer.from(d.peer).equals(Buffer.from(s.endpoint.subarray(0, 24)))).map((d) => s.plane.open([d.bytes], hub.endpoint, w.clock.now())[0].packet);
  return { w, hub, a, b, c, io, path, ring, stat, fromPeer, openedBy, signals: () => signals };
}

/** A local address record: one of the hub's addresses, on interface `ifindex`. */
export function local(address: string, ifindex = 2): Uint8Array {
  const r = new Uint8Array(24);
  encodeLocal(r, 0, address, ifindex);
  return r;
}

export const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");
export const NONE = new Uint8Array(24);
