/**
 * The receive path fails closed: random batches mixing authentic packets with garbage of
 * every length, every message type, unknown and stale receiver indices, counters at the
 * reject limit, forged tags, replays, malformed plaintexts and foreign inner sources. A
 * slow model says what must happen to each datagram; exactly the authentic, fresh,
 * source-checked packets come out, byte for byte, from the peer that sent them, and every
 * other datagram is cleared and counted under its reason.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ipv4, World, type Node } from "../../test/harness.js";
import { localIndex } from "../tables/keypair-slot.js";
import { CURRENT, keypairOf } from "../tables/peer-slot.js";
import { lookupIndex } from "../tables/receiver-index.js";
import { RX_DROP, RX_DROP_NAMES } from "./batch.js";

type Reason = (typeof RX_DROP_NAMES)[number];
type Expected = { deliver: Uint8Array; peer: number } | { reason: Reason } | { handshake: true };
interface Datagram {
  bytes: Uint8Array;
  expected: Expected;
  /** Authentic datagrams: their (receiver index, counter), which the replay window records. */
  replayKey?: string;
}

const KINDS = [
  "data", "other-peer", "foreign-source", "keepalive", "malformed", "forged", "replay",
  "counter-limit", "unknown-index", "stale", "garbage", "handshake-typed", "short-transport",
] as const;
type Kind = (typeof KINDS)[number];

const header = (type: number, index: number, lo: number, hi: number) => {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, index, true);
  v.setUint32(8, lo, true);
  v.setUint32(12, hi, true);
  return h;
};
const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const keyOf = (d: Uint8Array) => Buffer.from(d.subarray(4, 16)).toString("hex");

describe("receive path (prepareOpen -> openBatch -> finishOpen)", () => {
  const w = new World();
  let hub: Node, a: Node, c: Node;
  let stale: Uint8Array[] = [];
  /** Authentic datagrams the hub has accepted: replaying any of them must fail. */
  const history: Uint8Array[] = [];
  const seen = new Set<string>();

  const seal = (from: Node, payload: Uint8Array) => {
    const [d] = from.plane.seal(w.slotOf(from, hub), [payload], w.clock.now());
    if (!d) throw new Error(`${from.name} has no session with the hub`);
    return d;
  };
  const handshake = (from: Node) => {
    w.clock.advance(6_000); // past REKEY_TIMEOUT: a new initiation is allowed
    w.apply(from, from.device.initiate(w.slotOf(from, hub), w.clock.now()));
    w.pump();
    w.sendData(from, hub, [new Uint8Array(0)]); // confirms the responder's keypair
    w.pump();
  };
  const liveIndex = (peer: Node) => {
    const t = hub.device.tables;
    return localIndex(t, keypairOf(t, w.slotOf(hub, peer), CURRENT));
  };
  const randomUnknownIndex = (r: number) => {
    let index = r >>> 0 || 1;
    while (lookupIndex(hub.device.tables, index) >= 0) index = (index * 2654435761 + 1) >>> 0;
    return index;
  };

  beforeAll(() => {
    hub = w.addNode("hub", "100.64.0.1");
    a = w.addNode("a", "100.64.0.2");
    c = w.addNode("c", "100.64.0.3");
    w.connect(hub, a);
    w.connect(hub, c);
    handshake(a);
    stale = Array.from({ length: 8 }, (_, k) => seal(a, ipv4(a.vip, hub.vip, 20 + k)));
    const staleIndex = new DataView(stale[0].buffer, stale[0].byteOffset).getUint32(4, true);
    handshake(a);
    handshake(a);
    handshake(c);
    // Precondition: the first session is gone from the hub, the newest ones are live.
    expect(lookupIndex(hub.device.tables, staleIndex)).toBe(-1);
    expect(lookupIndex(hub.device.tables, liveIndex(a))).toBeGreaterThanOrEqual(0);
    expect(lookupIndex(hub.device.tables, liveIndex(c))).toBeGreaterThanOrEqual(0);
  });

  /** Builds one datagram of `kind` and says what must become of it. */
  function make(kind: Kind, r: number, len: number, body: Uint8Array): Datagram {
    const slotA = w.slotOf(hub, a);
    const slotC = w.slotOf(hub, c);
    const authentic = (bytes: Uint8Array, expected: Expected): Datagram => ({ bytes, expected, replayKey: keyOf(bytes) });
    switch (kind) {
      case "data": {
        const p = ipv4(a.vip, hub.vip, len, r & 255);
        return authentic(seal(a, p), { deliver: p, peer: slotA });
      }
      case "other-peer": {
        const p = ipv4(c.vip, hub.vip, len, r & 255);
        return authentic(seal(c, p), { deliver: p, peer: slotC });
      }
      case "foreign-source": {
        // c is a peer, but a's address (or one nobody owns) is not c's to use.
        const src = r & 1 ? a.vip : `100.64.${(r >>> 8) & 255}.${10 + (r & 127)}`;
        return authentic(seal(c, ipv4(src, hub.vip, len)), { reason: "droppedSource" });
      }
      case "keepalive":
        return authentic(seal(a, new Uint8Array(0)), { reason: "keepalivesReceived" });
      case "malformed": {
        // Authentic plaintexts that are not IP packets: another version, a length field
        // beyond the plaintext, a header cut short.
        const variants = [
          concat(new Uint8Array([0x00]), body.subarray(0, 39)),
          (() => { const p = ipv4(a.vip, hub.vip, len); p[2] = 0xff; p[3] = 0xff; return p; })(),
          new Uint8Array([0x45, 0, 0, 10, ...body.subarray(0, 6)]),
          concat(new Uint8Array([0x60]), body.subarray(0, 20)),
        ];
        return authentic(seal(a, variants[r % variants.length]), { reason: "droppedMalformed" });
      }
      case "forged": {
        const d = seal(a, ipv4(a.vip, hub.vip, len)).slice();
        const bit = 16 * 8 + (r % ((d.length - 16) * 8));
        d[bit >> 3] ^= 1 << (bit & 7);
        return { bytes: d, expected: { reason: "droppedAuth" } };
      }
      case "replay": {
        if (history.length === 0) return make("data", r, len, body);
        const d = history[r % history.length];
        return { bytes: d, expected: { reason: "droppedReplay" }, replayKey: keyOf(d) };
      }
      case "counter-limit": {
        const lo = 0xffffdfff + (r % 0x2000);
        return { bytes: concat(header(4, liveIndex(a), lo >>> 0, 0xffffffff), ipv4(a.vip, hub.vip, len), body.subarray(0, 16)), expected: { reason: "droppedCounterLimit" } };
      }
      case "unknown-index":
        // The injection the security issue was about: a well-formed IPv4 packet at offset 16.
        return { bytes: concat(header(4, randomUnknownIndex(r), r, 0), ipv4("198.18.9.9", hub.vip, len), new Uint8Array(16)), expected: { reason: "droppedNoKeypair" } };
      case "stale":
        return { bytes: stale[r % stale.length], expected: { reason: "droppedNoKeypair" } };
      case "garbage": {
        const d = body.subarray(0, len % (body.length + 1));
        if (d.length < 4) return { bytes: d, expected: { reason: "droppedShort" } };
        const type = new DataView(d.buffer, d.byteOffset).getUint32(0, true);
        if (type >= 1 && type <= 3) return { bytes: d, expected: { handshake: true } };
        if (type !== 4) return { bytes: d, expected: { reason: "droppedType" } };
        return make("unknown-index", r, len, body);
      }
      case "handshake-typed":
        return { bytes: concat(header(1 + (r % 3), r, 0, 0).subarray(0, 4), body.subarray(0, len % body.length)), expected: { handshake: true } };
      case "short-transport":
        return { bytes: concat(header(4, liveIndex(a), r, 0), body).subarray(0, 4 + (r % 28)), expected: { reason: "droppedShort" } };
    }
  }

  /** The slow model: the replay window in batch order, then the datagram's own fate. */
  function model(batch: Datagram[]): Expected[] {
    return batch.map((d) => {
      if (d.replayKey === undefined) return d.expected;
      if (seen.has(d.replayKey)) return { reason: "droppedReplay" };
      seen.add(d.replayKey);
      history.push(d.bytes);
      if (history.length > 256) history.shift();
      return d.expected;
    });
  }

  it("delivers exactly the authentic, fresh, source-checked packets, and counts every other datagram by reason", () => {
    const item = fc.record({
      kind: fc.constantFrom(...KINDS),
      r: fc.nat(),
      len: fc.integer({ min: 0, max: 1380 }),
      body: fc.uint8Array({ minLength: 48, maxLength: 200 }),
    });
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 64 }), (items) => {
        const batch = items.map((i) => make(i.kind, i.r, i.len, i.body));
        const expected = model(batch);
        const drops = hub.plane.batch.drops;
        const before = Array.from(drops);
        const out = hub.plane.open(batch.map((d) => d.bytes), a.endpoint, w.clock.now());

        const counted = new Map<Reason, number>();
        out.forEach((got, i) => {
          const e = expected[i];
          if ("deliver" in e) {
            expect(got.peer, `datagram ${i} (${items[i].kind})`).toBe(e.peer);
            expect(got.packet && Buffer.from(got.packet).equals(Buffer.from(e.deliver)), `datagram ${i} byte for byte`).toBe(true);
            return;
          }
          expect({ i, kind: items[i].kind, peer: got.peer, packet: got.packet }).toEqual({ i, kind: items[i].kind, peer: -1, packet: null });
          if ("reason" in e) counted.set(e.reason, (counted.get(e.reason) ?? 0) + 1);
        });
        const delta = Object.fromEntries(RX_DROP_NAMES.map((n) => [n, drops[RX_DROP[n]] - before[RX_DROP[n]]]));
        expect(delta).toEqual(Object.fromEntries(RX_DROP_NAMES.map((n) => [n, counted.get(n) ?? 0])));
      }),
      { numRuns: 150 },
    );
  });

  it("a keypair still registered but expired, or older than REJECT_AFTER_TIME, opens nothing", () => {
    const t = hub.device.tables;
    const open = (d: Uint8Array) => hub.plane.open([d], a.endpoint, w.clock.now())[0];
    const opened = () => open(seal(a, ipv4(a.vip, hub.vip, 40)));
    const reason = RX_DROP.droppedNoKeypair;
    expect(opened().packet).not.toBeNull();

    const slot = keypairOf(t, w.slotOf(hub, a), CURRENT);
    hub.device.keypairs.expire(slot);
    const before = hub.plane.batch.drops[reason];
    expect(opened()).toEqual({ peer: -1, packet: null });
    expect(hub.plane.batch.drops[reason]).toBe(before + 1);

    handshake(a);
    const late = seal(a, ipv4(a.vip, hub.vip, 40));
    w.clock.advance(180_000); // REJECT_AFTER_TIME, with no tick to retire the keypair
    expect(open(late)).toEqual({ peer: -1, packet: null });
    expect(hub.plane.batch.drops[reason]).toBe(before + 2);
    handshake(a);
    handshake(c);
  });

  it("a batch of nothing but rejected datagrams delivers nothing, even with a valid IP packet at offset 16", () => {
    const batch = Array.from({ length: 64 }, (_, k) => make(k % 2 ? "unknown-index" : "counter-limit", k * 7919, 60, new Uint8Array(64)));
    const out = hub.plane.open(batch.map((d) => d.bytes), a.endpoint, w.clock.now());
    expect(out.every((o) => o.peer === -1 && o.packet === null)).toBe(true);
  });
});
