/**
 * The worker's packet loop (Datapath) on an in-memory socket and TUN device: local
 * delivery, relay between peers, routes, staging until a session exists, TUN writes the
 * kernel refuses, a full handshake ring, and, as a property, that of any batch of
 * datagrams exactly the authentic, fresh, source-checked packets reach the TUN or the
 * peer they are addressed to. No root needed: the same code a worker runs, minus syscalls.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hex, lab, local, NONE } from "../../test/datapath-lab.js";
import { CookieGenerator } from "../protocol/cookie.js";
import { ipv4 } from "../../test/harness.js";
import { readLocal } from "../tables/peer-slot.js";

describe("Datapath on an in-memory socket and TUN", () => {
  it("delivers a peer's packets to the TUN, byte for byte, with one read, one AEAD and one write call", () => {
    const { w, a, hub, io, path, stat, fromPeer } = lab();
    const packets = Array.from({ length: 10 }, (_, k) => ipv4(a.vip, hub.vip, 100 + k, k));
    fromPeer(a, packets);
    expect(path.pollUdp(w.clock.now())).toBe(10);
    expect(io.tunOut.map((p) => Buffer.from(p).toString("hex"))).toEqual(packets.map((p) => Buffer.from(p).toString("hex")));
    expect(io.calls).toMatchObject({ udpRecv: 1, tunWrite: 1, udpSend: 0 });
    expect([stat("deliveredToTun"), stat("aeadCalls")]).toEqual([10, 1]);
  });

  it("relays a packet for another peer in user space, sealed for that peer, never through the TUN", () => {
    const { w, a, b, io, path, stat, fromPeer, openedBy } = lab();
    const p = ipv4(a.vip, b.vip, 300, 7);
    fromPeer(a, [p]);
    path.pollUdp(w.clock.now());
    expect(io.tunOut).toHaveLength(0);
    expect(openedBy(b)).toEqual([p]);
    expect(stat("relayed")).toBe(1);
  });

  it("seals TUN packets for the peer whose allowed IPs hold the destination, and drops those nobody has", () => {
    const { w, a, hub, io, path, stat, openedBy } = lab();
    const p = ipv4(hub.vip, a.vip, 200, 1);
    io.tunIn.push(p, ipv4(hub.vip, "100.64.9.9", 20));
    expect(path.pollTun(w.clock.now())).toBe(2);
    expect(openedBy(a)).toEqual([p]);
    expect([stat("sent"), stat("droppedNoRoute")]).toEqual([1, 1]);
  });

  it("holds packets for a peer with no session, asks for a handshake, and sends them once it completes", () => {
    const { w, hub, c, io, path, stat, openedBy, signals } = lab();
    const p = ipv4(hub.vip, c.vip, 64, 3);
    io.tunIn.push(p);
    path.pollTun(w.clock.now());
    expect(io.udpOut).toHaveLength(0);
    expect([stat("staged"), signals()]).toEqual([1, 1]);
    expect(path.flushStaged(w.clock.now())).toBe(0); // still no session
    w.apply(hub, hub.device.tick(w.clock.now())); // the control plane sees the request
    w.pump();
    expect(path.flushStaged(w.clock.now())).toBe(1);
    expect(openedBy(c)).toEqual([p]);
  });

  it("never sends a held packet to a new peer that took the slot of the one it waited for", () => {
    const { w, hub, c, io, path, stat } = lab();
    io.tunIn.push(ipv4(hub.vip, c.vip, 64));
    path.pollTun(w.clock.now());
    const slot = w.slotOf(hub, c);
    hub.device.removePeer(c.publicKey);
    const d = w.addNode("d", "100.64.0.20");
    w.connect(hub, d);
    expect(w.slotOf(hub, d)).toBe(slot);
    w.apply(d, d.device.initiate(w.slotOf(d, hub), w.clock.now()));
    w.pump();
    expect(path.flushStaged(w.clock.now())).toBe(0);
    expect(io.udpOut).toHaveLength(0);
    expect(stat("droppedNoSession")).toBe(1);
  });

  it("writes the rest of a batch when the kernel refuses one packet, and drops what a full queue cannot take", () => {
    const { w, a, hub, io, path, stat, fromPeer } = lab();
    const packets = Array.from({ length: 6 }, (_, k) => ipv4(a.vip, hub.vip, 40, k));
    io.rejectTun = (p) => p[20] === 2;
    fromPeer(a, packets);
    path.pollUdp(w.clock.now());
    expect(io.tunOut.map((p) => p[20])).toEqual([0, 1, 3, 4, 5]);
    expect(stat("tunWriteErrors")).toBe(1);
    io.rejectTun = () => false;
    io.tunRoom = 2;
    fromPeer(a, packets);
    path.pollUdp(w.clock.now());
    expect(io.tunOut).toHaveLength(7);
    expect(stat("tunWriteErrors")).toBe(1 + 4);
  });

  it("hands handshake messages to the ring, counts those a full ring or a wrong size turns away", () => {
    const { w, hub, io, path, ring, stat, signals } = lab(2);
    // MAC1-valid for the hub: the worker checks it before the ring.
    const initiation = () => {
      const m = Object.assign(new Uint8Array(148), { 0: 1 });
      new CookieGenerator(hub.publicKey).addMacs(m, 0);
      return m;
    };
    for (let k = 0; k < 4; k++) io.udpIn.push({ bytes: initiation(), peer: new Uint8Array(24) });
    io.udpIn.push({ bytes: Object.assign(new Uint8Array(149), { 0: 1 }), peer: new Uint8Array(24) });
    path.pollUdp(w.clock.now());
    expect([stat("handshakeMessages"), stat("droppedRingFull"), stat("droppedHandshakeSize")]).toEqual([2, 2, 1]);
    expect(ring.drain()).toHaveLength(2);
    expect(signals()).toBeGreaterThan(0);
    expect(io.tunOut).toHaveLength(0);
  });

  it("sends to each peer from the local address its latest authentic packet arrived at, relayed packets too", () => {
    const { w, hub, a, b, io, path, stat, fromPeer } = lab();
    const slotA = w.slotOf(hub, a);
    // a has sent nothing through the data plane yet: the kernel picks the source
    io.tunIn.push(ipv4(hub.vip, a.vip, 20, 1));
    path.pollTun(w.clock.now());
    expect(hex(io.udpOut[0].local)).toBe(hex(NONE));
    // a reaches the hub at 198.18.1.1, b at fd00::b; a forged packet "arriving" at another address changes nothing
    fromPeer(a, [ipv4(a.vip, hub.vip, 20)], local("198.18.1.1"));
    fromPeer(b, [ipv4(b.vip, hub.vip, 20)], local("fd00::b", 3));
    io.udpIn.push({ bytes: new Uint8Array(64).fill(4, 0, 1), peer: a.endpoint, local: local("198.18.1.9") });
    path.pollUdp(w.clock.now());
    expect(hex(readLocal(hub.device.tables, slotA))).toBe(hex(local("198.18.1.1")));
    io.udpOut.length = 0;
    io.tunIn.push(ipv4(hub.vip, a.vip, 20, 2), ipv4(hub.vip, b.vip, 20, 3));
    path.pollTun(w.clock.now());
    // to a from 198.18.1.1; b's endpoint is IPv4 and its recorded local address IPv6 (as
    // forged here): a source of the other family is not used, the kernel picks
    expect(io.udpOut.map((d) => hex(d.local))).toEqual([hex(local("198.18.1.1")), hex(NONE)]);
    expect(hex(readLocal(hub.device.tables, w.slotOf(hub, b)))).toBe(hex(local("fd00::b", 3)));
    // a relayed packet leaves from where its destination peer reached us
    io.udpOut.length = 0;
    fromPeer(b, [ipv4(b.vip, hub.vip, 20)], local("198.18.1.2"));
    fromPeer(a, [ipv4(a.vip, b.vip, 30, 4)], local("198.18.1.1"));
    path.pollUdp(w.clock.now());
    expect(stat("relayed")).toBe(1);
    expect(io.udpOut.map((d) => hex(d.local))).toEqual([hex(local("198.18.1.2"))]);
    expect(io.calls.udpSend).toBe(3); // still one sendmmsg a batch
  });

  it("falls over when the host loses that address: sent from the kernel's choice, forgotten, and learnt anew", () => {
    const { w, hub, a, io, path, stat, fromPeer, openedBy } = lab();
    const slotA = w.slotOf(hub, a);
    fromPeer(a, [ipv4(a.vip, hub.vip, 20)], local("198.18.1.1"));
    path.pollUdp(w.clock.now());
    io.refuseSource = (l) => hex(l) === hex(local("198.18.1.1")); // 198.18.1.1 removed from the host
    const packets = [1, 2, 3].map((k) => ipv4(hub.vip, a.vip, 20, k));
    io.tunIn.push(...packets);
    path.pollTun(w.clock.now());
    expect(openedBy(a)).toEqual(packets); // nothing lost
    expect(io.udpOut.map((d) => hex(d.local))).toEqual(Array(3).fill(hex(NONE)));
    expect(stat("sourceFallbacks")).toBe(3);
    expect(hex(readLocal(hub.device.tables, slotA))).toBe(hex(NONE));
    // what follows goes from the kernel's choice straight away
    io.udpOut.length = 0;
    io.tunIn.push(ipv4(hub.vip, a.vip, 20, 4));
    path.pollTun(w.clock.now());
    expect([hex(io.udpOut[0].local), stat("sourceFallbacks")]).toEqual([hex(NONE), 3]);
    // a reaches the hub at its other address: replies leave from there
    fromPeer(a, [ipv4(a.vip, hub.vip, 20)], local("198.18.1.3"));
    path.pollUdp(w.clock.now());
    io.udpOut.length = 0;
    io.tunIn.push(ipv4(hub.vip, a.vip, 20, 5));
    path.pollTun(w.clock.now());
    expect(hex(io.udpOut[0].local)).toBe(hex(local("198.18.1.3")));
  });

  it("of any batch, only authentic, fresh, source-checked packets reach the TUN or the peer they are for", () => {
    const { w, a, b, hub, io, path, ring, fromPeer, openedBy } = lab();
    const history: Uint8Array[] = [];
    const kinds = ["local", "relay", "foreign", "garbage", "injected", "replay", "handshake-junk"] as const;
    fc.assert(
      fc.property(fc.array(fc.record({ kind: fc.constantFrom(...kinds), n: fc.nat(1300), bytes: fc.uint8Array({ maxLength: 200 }) }), { minLength: 1, maxLength: 64 }), (items) => {
        io.tunOut.length = 0;
        io.udpOut.length = 0;
        const local: string[] = [];
        const relayed: string[] = [];
        for (const { kind, n, bytes } of items) {
          const before = io.udpIn.length;
          if (kind === "local") {
            const p = ipv4(a.vip, hub.vip, n, n & 255);
            local.push(Buffer.from(p).toString("hex"));
            fromPeer(a, [p]);
          } else if (kind === "relay") {
            const p = ipv4(a.vip, b.vip, n, n & 255);
            relayed.push(Buffer.from(p).toString("hex"));
            fromPeer(a, [p]);
          } else if (kind === "foreign") fromPeer(b, [ipv4(a.vip, hub.vip, n)]); // b may not use a's address
          else if (kind === "garbage") io.udpIn.push({ bytes, peer: a.endpoint });
          else if (kind === "injected") {
            const d = new Uint8Array(16 + 20 + n + 16);
            d.set([4, 0, 0, 0, n & 255, 0x55, 0xaa, 1]);
            d.set(ipv4(a.vip, hub.vip, n), 16);
            io.udpIn.push({ bytes: d, peer: a.endpoint });
          } else if (kind === "replay" && history.length > 0) io.udpIn.push({ bytes: history[n % history.length], peer: a.endpoint });
          else if (kind === "handshake-junk") io.udpIn.push({ bytes: Object.assign(bytes.slice(), { 0: 1 + (n % 3), 1: 0, 2: 0, 3: 0 }), peer: a.endpoint });
          if (kind === "local" || kind === "relay") history.push(io.udpIn[before].bytes);
        }
        while (io.udpIn.length > 0) path.pollUdp(w.clock.now());
        ring.drain();
        expect(io.tunOut.map((p) => Buffer.from(p).toString("hex"))).toEqual(local);
        expect(openedBy(b).map((p) => Buffer.from(p!).toString("hex"))).toEqual(relayed);
      }),
      { numRuns: 100 },
    );
  });
});
