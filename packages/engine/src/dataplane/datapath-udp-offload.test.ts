/**
 * The worker's packet loop with UDP offloads on its socket (FakeIo's GRO trains, cut as
 * io-shim cuts them, and its GSO refusals):
 * a train's packets reach the TUN, the peer they are relayed to and the handshake ring
 * exactly as the same packets sent one by one do; a train cut short or with segments over
 * a slot is dropped and counted; and, as a property against a plain model, of any mix of
 * trains and singles exactly the authentic, fresh, source-checked packets are delivered,
 * in order, with nothing lost when trains hold more packets than a batch has slots.
 */
import fc from "fast-check";
import { SEND_COALESCE } from "@taltun/io-shim";
import { describe, expect, it } from "vitest";
import { hex, lab } from "../../test/datapath-lab.js";
import { ipv4, type Node } from "../../test/harness.js";
import { CookieGenerator } from "../protocol/cookie.js";

type Lab = ReturnType<typeof lab>;

/** `s`'s sealed datagrams for `packets`, as one GRO train (the segment size is the first's). */
function train(l: Lab, s: Node, packets: Uint8Array[]): { bytes: Uint8Array; seg: number; parts: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  for (const d of s.plane.seal(l.w.slotOf(s, l.hub), packets, l.w.clock.now())) parts.push(d!);
  return { bytes: Buffer.concat(parts), seg: parts[0].length, parts };
}

const drain = (l: Lab) => {
  let calls = 0;
  while (l.path.pollUdp(l.w.clock.now()) > 0) calls++;
  return calls;
};

describe("Datapath with UDP GSO and GRO", () => {
  it("delivers a train's packets to the TUN exactly as it delivers the same packets sent one by one", () => {
    const l = lab(256, { udpGro: true, udpGso: true });
    const { a, hub, io, stat, fromPeer } = l;
    const packets = (tag: number) => [...Array.from({ length: 44 }, (_, k) => ipv4(a.vip, hub.vip, 1380, k + tag)), ipv4(a.vip, hub.vip, 300, tag)];
    fromPeer(a, packets(0));
    drain(l);
    const singles = io.tunOut.splice(0).map(hex);
    const before = stat("deliveredToTun");
    // three trains of 45: 135 packets, more than two batches hold
    const trains = [train(l, a, packets(0)), train(l, a, packets(0)), train(l, a, packets(0))];
    for (const t of trains) io.udpIn.push({ bytes: t.bytes, seg: t.seg, peer: a.endpoint });
    expect(drain(l)).toBe(3); // 64 + 64 + 7
    expect(io.tunOut.map(hex)).toEqual([...singles, ...singles, ...singles]);
    expect([stat("deliveredToTun") - before, stat("groTrains"), stat("droppedTruncated"), stat("droppedAuth"), stat("droppedReplay")]).toEqual([135, 3, 0, 0, 0]);
    expect(io.calls.udpRecv).toBe(2 + 4);
  });

  it("relays a train's packets and hands each handshake message of a train its own ring slot", () => {
    const l = lab(256, { udpGro: true });
    const { a, b, hub, io, ring, stat, openedBy } = l;
    const packets = Array.from({ length: 5 }, (_, k) => ipv4(a.vip, b.vip, 500, k));
    const t = train(l, a, packets);
    io.udpIn.push({ bytes: t.bytes, seg: t.seg, peer: a.endpoint });
    // MAC1-valid for the hub: the worker checks it before the ring.
    const initiation = Object.assign(new Uint8Array(148), { 0: 1 });
    new CookieGenerator(hub.publicKey).addMacs(initiation, 0);
    io.udpIn.push({ bytes: Buffer.concat([initiation, initiation, initiation]), seg: 148, peer: a.endpoint });
    drain(l);
    expect(openedBy(b)).toEqual(packets);
    expect(ring.drain()).toHaveLength(3);
    expect([stat("handshakeMessages"), stat("droppedHandshakeSize"), stat("relayed")]).toEqual([3, 0, 5]);
    expect(io.tunOut).toHaveLength(0);
  });

  it("drops a train cut short and segments longer than a slot, counts them, and delivers what follows", () => {
    const l = lab(256, { udpGro: true });
    const { a, hub, io, stat } = l;
    const cut = train(l, a, [ipv4(a.vip, hub.vip, 100, 1), ipv4(a.vip, hub.vip, 100, 2)]);
    io.udpIn.push({ bytes: cut.bytes, seg: cut.seg, peer: a.endpoint, truncated: true });
    io.udpIn.push({ bytes: new Uint8Array(3 * 1600).fill(4), seg: 1600, peer: a.endpoint }); // over the 1536-byte slots
    const ok = ipv4(a.vip, hub.vip, 100, 3);
    l.fromPeer(a, [ok]);
    drain(l);
    expect(io.tunOut.map(hex)).toEqual([hex(ok)]);
    expect(stat("droppedTruncated")).toBe(1 + 3);
  });

  it("coalesces sends on a GSO socket, and pauses coalescing for a while after the kernel refused a coalesced message", () => {
    const l = lab(256, { udpGso: true });
    const { a, hub, io, stat, openedBy } = l;
    const burst = (tag: number) => Array.from({ length: 10 }, (_, k) => ipv4(hub.vip, a.vip, 1000, k + tag));
    io.tunIn.push(...burst(0));
    l.path.pollTun(l.w.clock.now());
    io.refuseGso = true;
    io.tunIn.push(...burst(10));
    l.path.pollTun(l.w.clock.now());
    io.tunIn.push(...burst(20));
    l.path.pollTun(l.w.clock.now());
    expect(io.sendFlags).toEqual([SEND_COALESCE, SEND_COALESCE, 0]);
    expect(stat("gsoFallbacks")).toBe(1);
    expect(openedBy(a)).toEqual([...burst(0), ...burst(10), ...burst(20)]); // nothing lost either way
  });

  it("of any mix of trains and singles, delivers exactly the authentic, fresh, source-checked packets, in order", () => {
    const l = lab(256, { udpGro: true });
    const { a, b, hub, io, ring } = l;
    const history: { bytes: Uint8Array; seg: number }[] = [];
    const kinds = ["train", "single", "foreign", "garbage", "replay", "cut"] as const;
    const item = fc.record({ kind: fc.constantFrom(...kinds), k: fc.integer({ min: 1, max: 50 }), n: fc.nat(1300), tail: fc.nat(1300), bytes: fc.uint8Array({ maxLength: 200 }) });
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 12 }), (items) => {
        io.tunOut.length = 0;
        const want: string[] = [];
        for (const { kind, k, n, tail, bytes } of items) {
          const packets = [...Array.from({ length: k - 1 }, (_, j) => ipv4(a.vip, hub.vip, n, j)), ipv4(a.vip, hub.vip, Math.min(tail, n), k)];
          if (kind === "train" || kind === "cut") {
            const t = train(l, a, packets);
            io.udpIn.push({ bytes: t.bytes, seg: t.seg, peer: a.endpoint, truncated: kind === "cut" });
            if (kind === "train") want.push(...packets.map(hex));
            if (kind === "train") history.push(t); // a train cut short was never accepted: replaying it is no replay
          } else if (kind === "single") {
            l.fromPeer(a, packets.slice(0, 1));
            want.push(hex(packets[0]));
          } else if (kind === "foreign") {
            const t = train(l, b, packets); // b may not use a's address
            io.udpIn.push({ bytes: t.bytes, seg: t.seg, peer: b.endpoint });
          } else if (kind === "garbage") io.udpIn.push({ bytes, peer: a.endpoint });
          else if (kind === "replay" && history.length > 0) io.udpIn.push({ ...history[n % history.length], peer: a.endpoint });
        }
        drain(l);
        ring.drain();
        expect(io.udpIn).toHaveLength(0);
        expect(io.tunOut.map(hex)).toEqual(want);
      }),
      { numRuns: 60 },
    );
  });
});
