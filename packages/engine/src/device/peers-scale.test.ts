/**
 * Thousands of peers on one Device, as `wg setconf` brings them to a hub: the tables have
 * room for 10,000 and more, stats and removal stay linear, and handshakes due all at once
 * are started a bounded number per tick, every peer in its turn.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSharedMemory, HEAP_BASE } from "../protocol/aead.js";
import { generatePrivateKey } from "../protocol/dh.js";
import { parseIp } from "../protocol/address.js";
import { lookupAddress } from "../tables/allowed-ips.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { MAX_PEERS, tableCapacity } from "../tables/shared-tables.js";
import { Device, deviceRegionSize, TICK_INITIATIONS } from "./device.js";

function device(peers = MAX_PEERS): Device {
  const capacity = tableCapacity(peers);
  const memory = createSharedMemory(HEAP_BASE + deviceRegionSize(capacity) + 4096);
  return new Device({ memory, base: HEAP_BASE, capacity, privateKey: generatePrivateKey(), jitter: () => 0 });
}

const vip = (i: number) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const ms = (t: number) => Math.round(performance.now() - t);

describe("a Device with 10,000 peers", () => {
  it("has room for them by default, lists, routes and removes them in linear time", () => {
    expect(MAX_PEERS).toBeGreaterThanOrEqual(10_000);
    const d = device();
    expect(d.tables.peerCapacity).toBe(MAX_PEERS);
    expect(d.tables.keypairCapacity).toBeGreaterThanOrEqual(3 * MAX_PEERS);
    const keys = Array.from({ length: 10_000 }, () => randomBytes(32));
    let t = performance.now();
    const slots = keys.map((k, i) => d.addPeer({ publicKey: k, allowedIps: [`${vip(i)}/32`] }));
    const addMs = ms(t);
    expect(new Set(slots).size).toBe(10_000);
    expect(d.peerCount).toBe(10_000);
    t = performance.now();
    const stats = d.peerStats();
    const statsMs = ms(t);
    expect(stats).toHaveLength(10_000);
    expect(stats[9_999].allowedIps).toEqual([`${vip(9_999)}/32`]);
    for (const i of [0, 4_321, 9_999]) expect(lookupAddress(d.allowedIps.snapshot, parseIp(vip(i)), 0, 4)).toBe(slots[i]);
    t = performance.now();
    d.tick(d.clock.now());
    const tickMs = ms(t);
    t = performance.now();
    for (const k of keys) d.removePeer(k);
    const removeMs = ms(t);
    expect(d.peerCount).toBe(0);
    expect(d.allowedIps.size).toBe(0);
    console.log(`10,000 peers: added in ${addMs} ms, peerStats ${statsMs} ms, a tick ${tickMs} ms, removed in ${removeMs} ms`);
    expect(statsMs + tickMs).toBeLessThan(5_000);
  }, 60_000);

  it(`starts at most ${TICK_INITIATIONS} handshakes per tick when thousands are due at once, every peer in turn, and says when to come back`, () => {
    const d = device(4096);
    const n = 2_000;
    for (let i = 0; i < n; i++) {
      d.addPeer({ publicKey: randomBytes(32), endpoint: parseEndpoint(`198.18.${(i >> 8) & 255}.${i & 255}:51820`), persistentKeepalive: 25 });
    }
    // Turning a persistent keepalive on sends one at once: without a session, a handshake.
    const initiated = new Map<number, number>();
    const now = d.clock.now();
    let ticks = 0;
    let longest = 0;
    while (initiated.size < n && ticks < 1000) {
      const t = performance.now();
      const sent = d.tick(now).filter((a) => a.type === "send" && a.message === "initiation");
      longest = Math.max(longest, performance.now() - t);
      ticks++;
      expect(sent.length).toBeLessThanOrEqual(TICK_INITIATIONS);
      for (const a of sent) initiated.set(a.peer, (initiated.get(a.peer) ?? 0) + 1);
      if (initiated.size < n) expect(d.nextDeadline()).toBe(-Infinity);
    }
    expect(ticks).toBe(Math.ceil(n / TICK_INITIATIONS));
    expect([...initiated.values()].every((c) => c === 1)).toBe(true);
    // All started: the next deadline is a timer's again (the retransmits, REKEY_TIMEOUT on).
    expect(d.nextDeadline()).toBeGreaterThan(now);
    expect(d.tick(now).filter((a) => a.type === "send")).toHaveLength(0);
    console.log(`${n} handshakes due at once: ${ticks} ticks, the longest ${longest.toFixed(0)} ms`);
  }, 60_000);

  it(`spreads the handshakes a start-up asks for over ticks, ${TICK_INITIATIONS} at a time, each peer once`, () => {
    const d = device(4096);
    const n = 1_000;
    const slots = Array.from({ length: n }, (_, i) => d.addPeer({ publicKey: randomBytes(32), endpoint: parseEndpoint(`198.18.${(i >> 8) & 255}.${i & 255}:51820`) }));
    for (const slot of slots) d.requestInitiation(slot);
    d.requestInitiation(n + 10); // no such peer: nothing to start
    const initiated = new Set<number>();
    let ticks = 0;
    for (; initiated.size < n && ticks < 100; ticks++) {
      const sent = d.tick(d.clock.now()).filter((a) => a.type === "send" && a.message === "initiation");
      expect(sent.length).toBeLessThanOrEqual(TICK_INITIATIONS);
      for (const a of sent) {
        expect(initiated.has(a.peer)).toBe(false);
        initiated.add(a.peer);
      }
    }
    expect(initiated.size).toBe(n);
    expect(ticks).toBe(Math.ceil(n / TICK_INITIATIONS));
  }, 60_000);
});
