/**
 * The worker's handshake gate (handshake-guard.ts) in the real packet loop (Datapath on
 * FakeIo) in front of a real Device: a flood under load is answered with cookie replies by
 * the worker and never reaches a ring, a MAC2-valid initiation does, bad MAC1 is counted,
 * and what belongs to a handshake of ours goes to the priority ring past a full one.
 */
import { describe, expect, it } from "vitest";
import { FakeIo } from "../../test/fake-io.js";
import { World } from "../../test/harness.js";
import { instantiateAead } from "../protocol/aead.js";
import { COOKIE_REFRESH_TIME } from "../protocol/constants.js";
import { CookieGenerator } from "../protocol/cookie.js";
import { parseIp } from "../protocol/address.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { isUnderLoad } from "../tables/cookie-record.js";
import { Datapath } from "./datapath.js";
import { MemoryLayout, sharedBuffer } from "./memory-layout.js";
import { reserveWorkerRegions, workerRegionBytes } from "./regions.js";
import { HandshakeRing, ringBytes } from "./ring.js";
import { STAT, type StatName } from "./stats.js";

const MTU = 1420;

/** A hub (real Device) whose worker runs on a FakeIo, and a spoke `a` it knows. */
function lab(ringSlots = 256) {
  const w = new World();
  const hub = w.addNode("hub", "100.64.0.1");
  const a = w.addNode("a", "100.64.0.2");
  w.connect(hub, a);
  const size = workerRegionBytes(MTU) + ringBytes(ringSlots) + ringBytes(16) + 256;
  const at = w.reserve(size);
  const layout = new MemoryLayout(at, at + size);
  const regions = reserveWorkerRegions(layout, 0, MTU);
  const buffer = sharedBuffer(w.memory);
  const ring = new HandshakeRing(buffer, layout.reserve("ring", ringBytes(ringSlots)), ringSlots);
  const priority = new HandshakeRing(buffer, layout.reserve("priority", ringBytes(16)), 16);
  const io = new FakeIo(w.memory);
  const path = new Datapath(
    {
      memory: w.memory, tables: hub.device.tables, aead: instantiateAead(w.memory, regions.scratch), regions, ring, priority,
      udpFd: 0, tunFd: 0, tunVnet: false, mtu: MTU, localAddress: parseIp(hub.vip), signal: () => {}, io,
    },
    hub.device.allowedIps.snapshot,
  );
  const stats = new Int32Array(buffer, regions.stats, Object.keys(STAT).length);
  const stat = (name: StatName) => stats[STAT[name]];
  /** Receive everything queued, in batches, as a worker would. */
  const poll = () => {
    while (io.udpIn.length > 0) path.pollUdp(w.clock.now());
  };
  return { w, hub, a, io, path, ring, priority, stat, poll };
}

/** A flood's initiation: random bytes with a valid MAC1 for `to` (what anyone who knows the public key can make). */
function forged(to: Uint8Array): { bytes: Uint8Array; generator: CookieGenerator } {
  const bytes = crypto.getRandomValues(new Uint8Array(148));
  bytes.set([1, 0, 0, 0]);
  const generator = new CookieGenerator(to);
  generator.addMacs(bytes, 0);
  return { bytes, generator };
}

describe("the worker's handshake gate", () => {
  it("under load, answers a flood of MAC1-valid initiations from many ports with cookie replies itself, rate-limited per address; none reaches a ring", () => {
    const { w, hub, io, ring, priority, stat, poll } = lab();
    hub.device.noteLoad(w.clock.now(), 10_000, 0);
    expect(isUnderLoad(hub.device.tables)).toBe(true);
    const sent: { bytes: Uint8Array; generator: CookieGenerator; peer: Uint8Array }[] = [];
    for (let host = 1; host <= 20; host++) {
      for (let port = 1000; port < 1010; port++) {
        const f = forged(hub.publicKey);
        const peer = parseEndpoint(`198.18.9.${host}:${port}`);
        sent.push({ ...f, peer });
        io.udpIn.push({ bytes: f.bytes, peer });
      }
    }
    poll();
    expect(ring.drain()).toHaveLength(0);
    expect(priority.drain()).toHaveLength(0);
    // Five replies (the rate limiter's burst) per source address, whatever the port.
    expect(stat("cookieReplies")).toBe(20 * 5);
    expect(stat("rejectedRateLimit")).toBe(200 - 100);
    expect(stat("handshakeMessages")).toBe(0);
    expect(io.udpOut).toHaveLength(100);
    // Each goes back to the port it came from and opens for the sender, as a cookie reply from the hub.
    for (const out of io.udpOut) {
      const s = sent.find((x) => Buffer.from(x.peer).equals(Buffer.from(out.peer)))!;
      expect(out.bytes.length).toBe(64);
      s.generator.consumeReply(out.bytes, 0);
      expect(s.generator.hasCookie(0)).toBe(true);
    }
  });

  it("under load, lets a MAC2-valid initiation through to the priority ring, and the Device completes the handshake", () => {
    const { w, hub, a, io, priority, ring, stat, poll } = lab();
    const now = w.clock.now();
    hub.device.noteLoad(now, 10_000, 0);
    const [init] = a.device.initiate(w.slotOf(a, hub), now) as { bytes: Uint8Array }[];
    io.udpIn.push({ bytes: init.bytes, peer: a.endpoint });
    poll();
    expect(stat("cookieReplies")).toBe(1);
    const [again] = a.device.handleHandshakeMessage(io.udpOut[0].bytes, hub.endpoint, now) as { bytes: Uint8Array }[];
    io.udpIn.push({ bytes: again.bytes, peer: a.endpoint });
    poll();
    expect([stat("handshakePriority"), stat("handshakeMessages"), ring.drain().length]).toEqual([1, 1, 0]);
    const [m] = priority.drain();
    expect(hub.device.handleHandshakeMessage(m.data, m.source, now)).toContainEqual({ type: "keypair", peer: w.slotOf(hub, a), role: "responder" });
  });

  it("drops and counts a bad MAC1, under load or not, and a response or cookie reply that answers nothing of ours", () => {
    const { w, hub, a, io, ring, priority, stat, poll } = lab();
    const bad = forged(hub.publicKey).bytes;
    bad[120] ^= 1;
    io.udpIn.push({ bytes: bad, peer: a.endpoint });
    const [init] = a.device.initiate(w.slotOf(a, hub), w.clock.now()) as { bytes: Uint8Array }[];
    const wrongKey = init.bytes.slice();
    new CookieGenerator(a.publicKey).addMacs(wrongKey, 0); // MAC1 for someone else
    io.udpIn.push({ bytes: wrongKey, peer: a.endpoint });
    const response = new Uint8Array(92);
    response.set([2, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9]);
    new CookieGenerator(hub.publicKey).addMacs(response, 0);
    io.udpIn.push({ bytes: response, peer: a.endpoint });
    io.udpIn.push({ bytes: Object.assign(new Uint8Array(64), { 0: 3, 4: 7 }), peer: a.endpoint });
    poll();
    expect([stat("rejectedBadMac1"), stat("rejectedUnknownIndex")]).toEqual([2, 2]);
    expect(ring.drain().length + priority.drain().length).toBe(0);
  });

  it("puts the response to our pending initiation in the priority ring while the ordinary ring is full of flood", () => {
    const { w, hub, a, io, ring, priority, stat, poll } = lab(2);
    const now = w.clock.now();
    for (let k = 0; k < 8; k++) io.udpIn.push({ bytes: forged(hub.publicKey).bytes, peer: parseEndpoint(`198.18.9.1:${2000 + k}`) });
    const [init] = hub.device.initiate(w.slotOf(hub, a), now) as { bytes: Uint8Array }[];
    const [response] = a.device.handleHandshakeMessage(init.bytes, hub.endpoint, now) as { bytes: Uint8Array }[];
    io.udpIn.push({ bytes: response.bytes, peer: a.endpoint });
    poll();
    expect([stat("droppedRingFull"), stat("handshakePriority")]).toEqual([6, 1]);
    expect(ring.drain()).toHaveLength(2);
    const [m] = priority.drain();
    expect(hub.device.handleHandshakeMessage(m.data, m.source, now)).toContainEqual({ type: "keypair", peer: w.slotOf(hub, a), role: "initiator" });
  });

  it("follows the control plane's secret: a MAC2 made with the cookie of the secret before a rotation earns a cookie reply, not the ring", () => {
    const { w, hub, a, io, priority, stat, poll } = lab();
    hub.device.noteLoad(w.clock.now(), 10_000, 0);
    const [init] = a.device.initiate(w.slotOf(a, hub), w.clock.now()) as { bytes: Uint8Array }[];
    io.udpIn.push({ bytes: init.bytes, peer: a.endpoint });
    poll();
    // a learns the cookie and sends again at once, with MAC2: the priority ring.
    const [again] = a.device.handleHandshakeMessage(io.udpOut.pop()!.bytes, hub.endpoint, w.clock.now()) as { bytes: Uint8Array }[];
    io.udpIn.push({ bytes: again.bytes, peer: a.endpoint });
    poll();
    expect(priority.drain()).toHaveLength(1);
    w.clock.advance(COOKIE_REFRESH_TIME);
    hub.device.tick(w.clock.now()); // the control plane draws a new secret and publishes it
    hub.device.noteLoad(w.clock.now(), 10_000, 0);
    const before = stat("cookieReplies");
    io.udpIn.push({ bytes: again.bytes, peer: a.endpoint });
    poll();
    expect([stat("cookieReplies") - before, priority.drain().length]).toEqual([1, 0]);
  });

  it("follows a new private key at once: MAC1 for the old key is refused, for the new one accepted", () => {
    const { w, hub, io, ring, stat, poll } = lab();
    const old = hub.publicKey;
    const fresh = w.addNode("spare", "100.64.0.9");
    hub.device.setPrivateKey(fresh.privateKey);
    io.udpIn.push({ bytes: forged(old).bytes, peer: parseEndpoint("198.18.9.1:1") });
    io.udpIn.push({ bytes: forged(fresh.publicKey).bytes, peer: parseEndpoint("198.18.9.1:2") });
    poll();
    expect([stat("rejectedBadMac1"), ring.drain().length]).toEqual([1, 1]);
  });
});
