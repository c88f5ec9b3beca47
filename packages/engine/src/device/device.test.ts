import { describe, expect, it } from "vitest";
import { ipv4, World, type Node } from "../../test/harness.js";
import { KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_TIMEOUT } from "../protocol/constants.js";
import { receiveKeyAddress, sendKeyAddress, setSendCounter } from "../tables/keypair-slot.js";
import { copyEndpoint, CURRENT, handshakeRequested, keypairOf, NEXT } from "../tables/peer-slot.js";
import { ENDPOINT_BYTES } from "../tables/shared-tables.js";
import { defaultJitter } from "../protocol/timers.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { HANDSHAKE_BURST } from "../protocol/ratelimiter.js";

function pair(opts: { persistentKeepalive?: number } = {}) {
  const w = new World();
  const a = w.addNode("a", "100.64.0.1");
  const b = w.addNode("b", "100.64.0.2");
  w.connect(a, b, opts);
  return { w, a, b };
}

function handshake(w: World, from: Node, to: Node): void {
  w.apply(from, from.device.initiate(w.slotOf(from, to), w.clock.now()));
  w.pump();
}

const kinds = (n: Node, type: string) => n.events.filter((e) => e.action.type === type);
const sentKinds = (n: Node, message: string) => n.sent.filter((s) => s.action.message === message);

describe("Device: two peers over one shared memory", () => {
  for (const initiator of ["a", "b"] as const) {
    it(`handshake initiated by ${initiator}, then data both ways through the batch path`, () => {
      const { w, a, b } = pair();
      const [i, r] = initiator === "a" ? [a, b] : [b, a];
      handshake(w, i, r);
      expect(kinds(i, "keypair")[0].action).toMatchObject({ role: "initiator" });
      expect(kinds(r, "keypair")[0].action).toMatchObject({ role: "responder" });
      // The initiator confirmed the keypair with a keepalive; the responder promoted it.
      expect(sentKinds(i, "keepalive")).toHaveLength(1);
      const rt = r.device.tables;
      expect(keypairOf(rt, w.slotOf(r, i), CURRENT)).toBeGreaterThanOrEqual(0);
      expect(keypairOf(rt, w.slotOf(r, i), NEXT)).toBe(-1);

      const ab = Array.from({ length: 64 }, (_, k) => ipv4(a.vip, b.vip, 1380, k));
      expect(w.sendData(a, b, ab)).toBe(64);
      const ba = Array.from({ length: 10 }, (_, k) => ipv4(b.vip, a.vip, k * 7, k));
      expect(w.sendData(b, a, ba)).toBe(10);
      w.pump();
      expect(b.delivered).toEqual(ab);
      expect(a.delivered).toEqual(ba);
      const stats = a.device.peerStats()[0];
      expect(stats.txBytes).toBe(64 * (16 + 1408 + 16) + (initiator === "a" ? 32 : 0));
      expect(stats.lastHandshake).toBeGreaterThan(0);
    });
  }

  it("the responder cannot send before the initiator confirmed the keypair", () => {
    const { w, a, b } = pair();
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    const initiation = w.inflight.shift()!;
    w.apply(b, b.device.handleHandshakeMessage(initiation.bytes, a.endpoint, 0));
    expect(b.plane.seal(w.slotOf(b, a), [ipv4(b.vip, a.vip, 10)], 0)).toEqual([null]);
    w.pump();
    expect(b.plane.seal(w.slotOf(b, a), [ipv4(b.vip, a.vip, 10)], 0)[0]).not.toBeNull();
  });

  it("simultaneous initiation resolves", () => {
    // Real retransmit jitter: it is what breaks the tie.
    const w = new World();
    const a = w.addNode("a", "100.64.0.1", { jitter: defaultJitter });
    const b = w.addNode("b", "100.64.0.2", { jitter: defaultJitter });
    w.connect(a, b);
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    w.apply(b, b.device.initiate(w.slotOf(b, a), 0));
    w.pump();
    let ok = false;
    w.run(60_000, 10, () => {
      if (ok) return;
      const x = w.sendData(a, b, [ipv4(a.vip, b.vip, 20)]);
      const y = w.sendData(b, a, [ipv4(b.vip, a.vip, 20)]);
      ok = x === 1 && y === 1;
    });
    w.pump();
    expect(ok).toBe(true);
    expect(a.delivered.length).toBeGreaterThan(0);
    expect(b.delivered.length).toBeGreaterThan(0);
  });

  it("inner source addresses must be allowed IPs of the sending peer", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    w.sendData(a, b, [ipv4("100.64.0.99", b.vip, 10), ipv4(a.vip, b.vip, 10)]);
    w.pump();
    expect(b.delivered).toEqual([ipv4(a.vip, b.vip, 10)]);
  });

  it("roaming: the endpoint follows the latest authenticated packet", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const [sealed] = a.plane.seal(w.slotOf(a, b), [ipv4(a.vip, b.vip, 10)], 0);
    const moved = a.endpoint.slice();
    moved[3] ^= 1; // another port
    b.plane.open([sealed!], moved, 0);
    w.tick();
    expect(b.device.peerStats()[0].endpoint).toEqual(moved);
    // Workers read it back from the shared peer slot for sending.
    const scratch = b.plane.batch.descPtr + 64 * 24;
    expect(copyEndpoint(b.device.tables, w.slotOf(b, a), scratch)).toBe(true);
    expect(b.device.tables.u8.slice(scratch, scratch + ENDPOINT_BYTES)).toEqual(moved);
    // A forged packet from elsewhere does not move it.
    const forged = sealed!.slice();
    forged[40] ^= 1;
    b.plane.open([forged], a.endpoint, 0);
    w.tick();
    expect(b.device.peerStats()[0].endpoint).toEqual(moved);
  });
});

describe("Device timers in virtual time", () => {
  it("rekeys at REKEY_AFTER_TIME with no packet lost, and keeps doing so", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    let sent = 0;
    w.run(400_000, 500, () => {
      sent += w.sendData(a, b, [ipv4(a.vip, b.vip, 100, sent & 255)]);
      sent += w.sendData(b, a, [ipv4(b.vip, a.vip, 100, sent & 255)]);
    });
    w.pump();
    expect(sent).toBe(2 * 800);
    expect(a.delivered.length + b.delivered.length).toBe(sent);
    const handshakes = kinds(a, "keypair").length;
    expect(handshakes).toBeGreaterThanOrEqual(3);
    // The first rekey happened right at REKEY_AFTER_TIME (the next packet after it).
    expect(kinds(a, "keypair")[1].at - kinds(a, "keypair")[0].at).toBeLessThanOrEqual(REKEY_AFTER_TIME + 1000);
    expect(kinds(a, "keypair")[1].at - kinds(a, "keypair")[0].at).toBeGreaterThanOrEqual(REKEY_AFTER_TIME);
  });

  it("drops packets of a keypair older than REJECT_AFTER_TIME and refuses to seal with it", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const [late] = a.plane.seal(w.slotOf(a, b), [ipv4(a.vip, b.vip, 10)], w.clock.now());
    w.clock.advance(REJECT_AFTER_TIME);
    expect(b.plane.open([late!], a.endpoint, w.clock.now())[0].peer).toBe(-1);
    expect(a.plane.seal(w.slotOf(a, b), [ipv4(a.vip, b.vip, 10)], w.clock.now())).toEqual([null]);
  });

  it("sends a passive keepalive KEEPALIVE_TIMEOUT after data received, and only then", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const before = sentKinds(b, "keepalive").length;
    w.sendData(a, b, [ipv4(a.vip, b.vip, 10)]);
    w.pump();
    w.tick();
    const start = w.clock.now();
    w.run(KEEPALIVE_TIMEOUT - 100, 100);
    expect(sentKinds(b, "keepalive").length).toBe(before);
    w.run(100, 100);
    expect(sentKinds(b, "keepalive").length).toBe(before + 1);
    expect(sentKinds(b, "keepalive").at(-1)!.at - start).toBe(KEEPALIVE_TIMEOUT);
    // Data answered within the timeout: no keepalive.
    w.sendData(a, b, [ipv4(a.vip, b.vip, 10)]);
    w.tick();
    w.run(3000, 100);
    w.sendData(b, a, [ipv4(b.vip, a.vip, 10)]);
    w.run(30_000, 100);
    expect(sentKinds(b, "keepalive").length).toBe(before + 1);
  });

  it("starts a new handshake when data sent gets nothing back for KEEPALIVE + REKEY_TIMEOUT", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const initiations = sentKinds(a, "initiation").length;
    w.blackhole.add("b");
    w.sendData(a, b, [ipv4(a.vip, b.vip, 10)]);
    w.tick();
    w.run(14_900, 100);
    expect(sentKinds(a, "initiation").length).toBe(initiations);
    w.run(200, 100);
    expect(sentKinds(a, "initiation").length).toBe(initiations + 1);
  });

  it("sends persistent keepalives at the configured interval", () => {
    const { w, a } = pair({ persistentKeepalive: 25 });
    w.tick(); // the first persistent keepalive finds no session: it starts the handshake
    expect(kinds(a, "keypair")).toHaveLength(1);
    const start = w.clock.now();
    w.run(100_000, 100);
    const times = sentKinds(a, "keepalive").map((s) => s.at - start);
    // One confirming the handshake at 0, then every 25 s of silence.
    expect(times).toEqual([0, 25_000, 50_000, 75_000, 100_000]);
  });

  it("retries the handshake every REKEY_TIMEOUT and gives up after REKEY_ATTEMPT_TIME", () => {
    const { w, a, b } = pair();
    w.blackhole.add("b");
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    w.run(120_000, 100);
    const times = sentKinds(a, "initiation").map((s) => s.at);
    expect(times).toEqual(Array.from({ length: 18 }, (_, k) => k * 5000));
    expect(kinds(a, "handshake-failed").map((e) => e.at)).toEqual([90_000]);
  });

  it("zeroes all key material 3 x REJECT_AFTER_TIME after the last handshake", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    w.sendData(a, b, [ipv4(a.vip, b.vip, 10)]);
    w.pump();
    w.run(3 * REJECT_AFTER_TIME - 1000, 1000);
    expect(kinds(a, "keys-zeroed")).toHaveLength(0);
    w.run(2000, 1000);
    expect(kinds(a, "keys-zeroed")).toHaveLength(1);
    expect(kinds(b, "keys-zeroed")).toHaveLength(1);
    for (const n of [a, b]) {
      const t = n.device.tables;
      for (let k = 0; k < t.keypairCapacity; k++) {
        const keys = t.u8.subarray(sendKeyAddress(t, k), receiveKeyAddress(t, k) + 32);
        expect(keys.every((x) => x === 0)).toBe(true);
      }
      expect(keypairOf(t, 0, CURRENT)).toBe(-1);
    }
  });

  it("close() zeroes every key at once", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const t = a.device.tables;
    const slot = keypairOf(t, 0, CURRENT);
    const key = () => t.u8.subarray(sendKeyAddress(t, slot), receiveKeyAddress(t, slot) + 32);
    expect(key().some((x) => x !== 0)).toBe(true);
    const secrets = a.device.peerBySlot(0)!.secrets;
    a.device.close();
    expect(key().every((x) => x === 0)).toBe(true);
    expect(secrets.staticStatic.every((x) => x === 0)).toBe(true);
    expect(a.device.publicKey).toBeNull();
    expect(a.plane.seal(0, [ipv4(a.vip, b.vip, 10)], w.clock.now())).toEqual([null]);
  });
});

describe("Device message limits and load", () => {
  it("REKEY_AFTER_MESSAGES asks for a new handshake; REJECT_AFTER_MESSAGES is never crossed, on either side", () => {
    const { w, a, b } = pair();
    handshake(w, a, b);
    const t = a.device.tables;
    const slot = keypairOf(t, 0, CURRENT);
    // Jump the send counter to just below 2^60.
    setSendCounter(t, slot, -1, 2 ** 28 - 1);
    const initiations = sentKinds(a, "initiation").length;
    expect(w.sendData(a, b, [ipv4(a.vip, b.vip, 10)])).toBe(1);
    expect(handshakeRequested(t, 0)).toBe(false); // 2^60 - 1 is still fine
    expect(w.sendData(a, b, [ipv4(a.vip, b.vip, 10)])).toBe(1); // counter 2^60
    expect(handshakeRequested(t, 0)).toBe(true);
    w.inflight.length = 0;
    w.clock.advance(REKEY_TIMEOUT);
    w.tick();
    expect(sentKinds(a, "initiation").length).toBe(initiations + 1);

    // A fresh session; push its counter to REJECT_AFTER_MESSAGES - 1 = 2^64 - 2^13 - 2.
    const s2 = keypairOf(t, 0, CURRENT);
    expect(s2).not.toBe(slot);
    setSendCounter(t, s2, 0xffffdffe, 0xffffffff);
    const [last] = a.plane.seal(0, [ipv4(a.vip, b.vip, 10)], w.clock.now());
    expect(last).not.toBeNull();
    expect(a.plane.seal(0, [ipv4(a.vip, b.vip, 10)], w.clock.now())).toEqual([null]);
    // The receiver refuses a datagram claiming a counter at the limit, before any decryption.
    const forged = last!.slice();
    forged.set([0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 8);
    expect(b.plane.open([forged], a.endpoint, w.clock.now())[0].peer).toBe(-1);
    expect(b.plane.open([last!], a.endpoint, w.clock.now())[0].peer).toBe(0);
  });

  it("above the load threshold, initiations without MAC2 get cookie replies; the per-source limit applies", () => {
    const w = new World();
    const b = w.addNode("b", "100.64.0.2", { loadThreshold: 3 });
    const others = Array.from({ length: 12 }, (_, k) => w.addNode(`p${k}`, `100.64.1.${k}`));
    for (const o of others) w.connect(o, b);
    const common = parseEndpoint("198.18.7.7:40000"); // every initiator behind one address
    const deliver = () => {
      const i = w.inflight.findIndex((d) => d.to === b);
      const { bytes } = w.inflight.splice(i, 1)[0];
      return b.device.handleHandshakeMessage(bytes, common, w.clock.now())[0];
    };
    const answers = others.map((o) => {
      w.apply(o, o.device.initiate(0, 0));
      return deliver();
    });
    expect(answers.slice(0, 3).every((x) => x.type === "send" && x.message === "response")).toBe(true);
    expect(answers.slice(3).every((x) => x.type === "send" && x.message === "cookie-reply")).toBe(true);
    // The cookie-replied initiators learn their cookie; their retries carry MAC2.
    others.slice(3).forEach((o, k) => o.device.handleHandshakeMessage((answers[3 + k] as { bytes: Uint8Array }).bytes, b.endpoint, 0));
    w.inflight.length = 0;
    w.clock.advance(REKEY_TIMEOUT);
    const retries = others.slice(3).map((o) => {
      w.apply(o, o.device.tick(w.clock.now()));
      return deliver();
    });
    // 3 retries fit under the threshold; past it MAC2 is valid, and the source's bucket (5) decides.
    const responses = retries.filter((x) => x.type === "send" && x.message === "response").length;
    const floods = retries.filter((x) => x.type === "rejected" && x.reason === "flood").length;
    expect([responses, floods]).toEqual([3 + HANDSHAKE_BURST, 9 - 3 - HANDSHAKE_BURST]);
    w.inflight.length = 0;
  });
});
