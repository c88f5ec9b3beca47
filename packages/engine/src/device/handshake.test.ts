import { describe, expect, it } from "vitest";
import { ipv4, World, type Node } from "../../test/harness.js";
import { COOKIE_REFRESH_TIME } from "../protocol/constants.js";
import { CookieChecker, CookieGenerator } from "../protocol/cookie.js";
import { dhStats, generatePrivateKey, publicKeyOf } from "../protocol/dh.js";
import type { DeviceAction } from "./device.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { messageType } from "../protocol/messages.js";

/** Every variant of `bytes` with exactly one bit flipped. */
function* bitFlips(bytes: Uint8Array): Generator<Uint8Array> {
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const m = bytes.slice();
    m[bit >> 3] ^= 1 << (bit & 7);
    yield m;
  }
}

function sizeVariants(bytes: Uint8Array): Uint8Array[] {
  return [bytes.subarray(0, bytes.length - 1), bytes.subarray(0, 4), new Uint8Array(0), Uint8Array.of(...bytes, 0)];
}

/** Run the handshake-relevant part of a node's inbound handling, capturing instead of delivering. */
function takeInflight(w: World, type: number): { bytes: Uint8Array; from: Uint8Array; to: Node } {
  const i = w.inflight.findIndex((d) => messageType(d.bytes) === type);
  expect(i).toBeGreaterThanOrEqual(0);
  return w.inflight.splice(i, 1)[0];
}

const accepted = (actions: DeviceAction[]) => actions.some((a) => a.type === "keypair");

describe("handshake message rejection", () => {
  it("drops a wrong MAC1 before any DH", () => {
    const w = new World();
    const a = w.addNode("a", "100.64.0.1");
    const b = w.addNode("b", "100.64.0.2");
    w.connect(a, b);
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    const init = takeInflight(w, 1).bytes;
    init[120] ^= 0x80;
    const before = dhStats.operations;
    expect(b.device.handleHandshakeMessage(init, a.endpoint, 0)).toEqual([{ type: "rejected", peer: -1, reason: "bad-mac1" }]);
    expect(dhStats.operations).toBe(before);
    // A stranger with a valid MAC1 costs DH but is still refused.
    const stranger = w.addNode("c", "100.64.0.3");
    stranger.device.addPeer({ publicKey: b.publicKey, endpoint: b.endpoint });
    w.apply(stranger, stranger.device.initiate(0, 0));
    expect(b.device.handleHandshakeMessage(takeInflight(w, 1).bytes, stranger.endpoint, 0)[0]).toMatchObject({ reason: "unknown-peer" });
  });

  it("initiation: truncated, extended, any bit flipped (under load, with a cookie), or replayed is rejected", () => {
    const w = new World();
    const a = w.addNode("a", "100.64.0.1");
    const b = w.addNode("b", "100.64.0.2", { loadThreshold: 0 });
    w.connect(a, b);
    // Under load, an initiation without MAC2 gets a cookie reply and no DH.
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    const first = takeInflight(w, 1);
    const dh0 = dhStats.operations;
    const answer = b.device.handleHandshakeMessage(first.bytes, a.endpoint, 0);
    expect(dhStats.operations).toBe(dh0);
    expect(answer).toHaveLength(1);
    expect(answer[0]).toMatchObject({ type: "send", message: "cookie-reply" });
    w.apply(b, answer);
    // a learns the cookie and sends the initiation again at once, with MAC2: the one we mutate.
    const again = a.device.handleHandshakeMessage(takeInflight(w, 3).bytes, b.endpoint, 0);
    expect(again).toMatchObject([{ type: "send", message: "initiation" }]);
    w.clock.advance(5000);
    const init = (again[0] as { bytes: Uint8Array }).bytes;
    for (const m of sizeVariants(init)) expect(b.device.handleHandshakeMessage(m, a.endpoint, 5000)[0]).toMatchObject({ type: "rejected" });
    let flips = 0;
    for (const m of bitFlips(init)) {
      const out = b.device.handleHandshakeMessage(m, a.endpoint, 5000);
      expect(accepted(out)).toBe(false);
      flips++;
    }
    expect(flips).toBe(148 * 8);
    expect(accepted(b.device.handleHandshakeMessage(init, a.endpoint, 5000))).toBe(true);
    expect(b.device.handleHandshakeMessage(init, a.endpoint, 6000)).toEqual([{ type: "rejected", peer: -1, reason: "replayed-timestamp" }]);
  });

  it("response: truncated, extended or any bit flipped is rejected; the cookie path works for responses", () => {
    const w = new World();
    const a = w.addNode("a", "100.64.0.1", { loadThreshold: 0 });
    const b = w.addNode("b", "100.64.0.2");
    w.connect(a, b);
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    w.pump(); // b answers without MAC2, a (under load) answers with a cookie reply, b learns it
    expect(a.sent.map((s) => s.action.message)).toEqual(["initiation", "cookie-reply"]);
    w.clock.advance(5000);
    w.apply(a, a.device.tick(w.clock.now()));
    const out = b.device.handleHandshakeMessage(takeInflight(w, 1).bytes, a.endpoint, 5000);
    const resp = (out.find((x) => x.type === "send") as { bytes: Uint8Array }).bytes;
    expect(resp.length).toBe(92);
    for (const m of sizeVariants(resp)) expect(a.device.handleHandshakeMessage(m, b.endpoint, 5000)[0]).toMatchObject({ type: "rejected" });
    for (const m of bitFlips(resp)) expect(accepted(a.device.handleHandshakeMessage(m, b.endpoint, 5000))).toBe(false);
    expect(a.device.handleHandshakeMessage(resp, b.endpoint, 5000)).toContainEqual({ type: "keypair", peer: 0, role: "initiator" });
    expect(a.device.handleHandshakeMessage(resp, b.endpoint, 5000)[0]).toMatchObject({ reason: "unknown-index" });
  });

  it("cookie reply: truncated, extended or any bit flipped is rejected; the original is accepted", () => {
    const w = new World();
    const a = w.addNode("a", "100.64.0.1");
    const b = w.addNode("b", "100.64.0.2", { loadThreshold: 0 });
    w.connect(a, b);
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    const [answer] = b.device.handleHandshakeMessage(takeInflight(w, 1).bytes, a.endpoint, 0);
    expect(answer).toMatchObject({ type: "send", message: "cookie-reply" });
    const reply = (answer as { bytes: Uint8Array }).bytes;
    expect(reply.length).toBe(64);
    const peer = a.device.peerBySlot(0)!;
    for (const m of sizeVariants(reply)) expect(a.device.handleHandshakeMessage(m, b.endpoint, 0)[0]).toMatchObject({ type: "rejected" });
    for (const m of bitFlips(reply)) expect(a.device.handleHandshakeMessage(m, b.endpoint, 0)[0]).toMatchObject({ type: "rejected" });
    expect(peer.cookies.hasCookie(0)).toBe(false);
    // Learning the cookie sends the initiation again at once, now with MAC2.
    const again = a.device.handleHandshakeMessage(reply, b.endpoint, 0);
    expect(again).toMatchObject([{ type: "send", message: "initiation" }]);
    expect((again[0] as { bytes: Uint8Array }).bytes.subarray(132).some((x) => x !== 0)).toBe(true);
    expect(peer.cookies.hasCookie(0)).toBe(true);
    // A reply answers one message: replaying it is refused (the initiation it answered is gone).
    expect(a.device.handleHandshakeMessage(reply, b.endpoint, 0)[0]).toMatchObject({ reason: "unknown-index" });
  });
});

describe("cookies", () => {
  it("the MAC2 cookie binds the source address and the secret rotates every COOKIE_REFRESH_TIME", () => {
    const priv = generatePrivateKey();
    const pub = publicKeyOf(priv);
    const checker = new CookieChecker(pub);
    const gen = new CookieGenerator(pub);
    const src = parseEndpoint("198.18.0.9:1234");
    const msg = new Uint8Array(148);
    msg[0] = 1;
    gen.addMacs(msg, 0);
    expect(checker.checkMac1(msg)).toBe(true);
    const reply = checker.createReply(msg, 7, src, 0);
    gen.consumeReply(reply, 0);
    expect(() => gen.consumeReply(reply, 0)).toThrow(/without a message/);
    gen.addMacs(msg, 1);
    expect(checker.checkMac2(msg, src, 1)).toBe(true);
    expect(checker.checkMac2(msg, parseEndpoint("198.18.0.9:1235"), 1)).toBe(false);
    expect(checker.checkMac2(msg, src, COOKIE_REFRESH_TIME - 1)).toBe(true);
    expect(checker.checkMac2(msg, src, COOKIE_REFRESH_TIME)).toBe(false); // new secret
    expect(gen.hasCookie(COOKIE_REFRESH_TIME)).toBe(false);
  });
});

describe("transport message rejection", () => {
  it("truncated, extended, any bit flipped, replayed or too old is dropped; reordered inside the window is accepted", () => {
    const w = new World();
    const a = w.addNode("a", "100.64.0.1");
    const b = w.addNode("b", "100.64.0.2");
    w.connect(a, b);
    w.apply(a, a.device.initiate(w.slotOf(a, b), 0));
    w.pump();
    const pkt = ipv4(a.vip, b.vip, 12);
    const [d] = a.plane.seal(0, [pkt], 0);
    expect(d!.length).toBe(16 + 32 + 16);
    const open1 = (m: Uint8Array) => b.plane.open([m], a.endpoint, 0)[0];
    for (const m of sizeVariants(d!)) expect(open1(m).peer).toBe(-1);
    for (const m of bitFlips(d!)) expect(open1(m).peer).toBe(-1);
    expect(open1(d!).packet).toEqual(pkt);
    expect(open1(d!).peer).toBe(-1); // replay
    // 5000 packets delivered in a shuffled order within the window: all accepted once.
    const many: Uint8Array[] = [];
    for (let k = 0; k < 5000; k += 50) many.push(...(a.plane.seal(0, Array.from({ length: 50 }, () => pkt), 0) as Uint8Array[]));
    const old = many.slice(0, 100);
    const recent = many.slice(900);
    for (let k = recent.length - 1; k > 0; k -= 2) [recent[k], recent[k - 1]] = [recent[k - 1], recent[k]];
    let ok = 0;
    for (let k = 0; k < recent.length; k += 64) ok += b.plane.open(recent.slice(k, k + 64), a.endpoint, 0).filter((r) => r.packet).length;
    expect(ok).toBe(recent.length);
    ok = 0;
    for (let k = 0; k < recent.length; k += 64) ok += b.plane.open(recent.slice(k, k + 64), a.endpoint, 0).filter((r) => r.packet).length;
    expect(ok).toBe(0);
    // More than the window behind the newest: dropped although never seen.
    expect(b.plane.open(old.slice(0, 64), a.endpoint, 0).filter((r) => r.packet)).toHaveLength(0);
  });
});
