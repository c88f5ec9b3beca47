import { describe, expect, it } from "vitest";
import { startTsWorker } from "./_worker-test.js";
import { HandshakeRing, RING_MAX_MESSAGE, ringBytes } from "./ring.js";

const ADDR_AT = 0;
const DATA_AT = 64;
const RING_AT = 512;

function memory(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(RING_AT + ringBytes(capacity));
}

function put(buf: SharedArrayBuffer, ring: HandshakeRing, bytes: number[], addrTag: number): boolean {
  const u8 = new Uint8Array(buf);
  u8.set(bytes, DATA_AT);
  u8.fill(addrTag, ADDR_AT, ADDR_AT + 24);
  return ring.push(DATA_AT, bytes.length, ADDR_AT);
}

describe("HandshakeRing", () => {
  it("delivers messages with their source, oldest first, across many wrap-arounds", () => {
    const buf = memory(4);
    const ring = new HandshakeRing(buf, RING_AT, 4);
    for (let round = 0; round < 50; round++) {
      expect(put(buf, ring, [1, round, 3], round)).toBe(true);
      expect(put(buf, ring, [2, round], round + 1)).toBe(true);
      const got = ring.drain();
      expect(got.map((m) => [...m.data])).toEqual([[1, round, 3], [2, round]]);
      expect(got[1].source.every((b) => b === round + 1)).toBe(true);
    }
    expect(ring.dropped).toBe(0);
  });

  it("carries where each message arrived (its local address record), or none", () => {
    const buf = memory(4);
    const ring = new HandshakeRing(buf, RING_AT, 4);
    const u8 = new Uint8Array(buf);
    u8.fill(7, 32, 56); // a local address record at 32
    u8.set(new Array(148).fill(9), DATA_AT);
    expect(ring.push(DATA_AT, 148, ADDR_AT, 32)).toBe(true); // the largest handshake message still fits
    expect(ring.push(DATA_AT, 3, ADDR_AT)).toBe(true);
    const [a, b] = ring.drain();
    expect([a.data.length, a.local.every((x) => x === 7), a.local.length]).toEqual([148, true, 24]);
    expect(b.local.every((x) => x === 0)).toBe(true);
    expect(RING_MAX_MESSAGE).toBeGreaterThanOrEqual(148);
  });

  it("drops and counts when full or when a message is too long", () => {
    const buf = memory(2);
    const ring = new HandshakeRing(buf, RING_AT, 2);
    expect(put(buf, ring, [1], 0)).toBe(true);
    expect(put(buf, ring, [2], 0)).toBe(true);
    expect(put(buf, ring, [3], 0)).toBe(false);
    expect(ring.push(DATA_AT, RING_MAX_MESSAGE + 1, ADDR_AT)).toBe(false);
    expect(ring.dropped).toBe(2);
    expect(ring.drain().map((m) => m.data[0])).toEqual([1, 2]);
  });

  it("copies messages from anywhere in the memory, also beyond the ring", () => {
    const buf = new SharedArrayBuffer(RING_AT + ringBytes(2) + 4096);
    const ring = new HandshakeRing(buf, RING_AT, 2);
    const far = RING_AT + ringBytes(2) + 1000;
    new Uint8Array(buf).set([1, 0, 0, 0, 42], far);
    expect(ring.push(far, 5, ADDR_AT)).toBe(true);
    expect([...ring.drain()[0].data]).toEqual([1, 0, 0, 0, 42]);
  });

  it("refuses a capacity that is not a power of two", () => {
    expect(() => new HandshakeRing(memory(4), RING_AT, 3)).toThrow(/power of two/);
  });

  it("carries every message from a worker thread to a consumer on another thread", async () => {
    const capacity = 8;
    const buf = memory(capacity);
    const ring = new HandshakeRing(buf, RING_AT, capacity);
    const total = 2000;
    // The producer retries when the ring is full, so nothing may be lost or reordered.
    const worker = startTsWorker(
      "./ring.ts",
      `const { buf, RING_AT, DATA_AT, ADDR_AT, total } = workerData;
       const ring = new mod.HandshakeRing(buf, RING_AT);
       const tail = new Int32Array(buf, RING_AT, 4);
       const dv = new DataView(buf);
       for (let i = 0; i < total; i++) {
         dv.setUint32(DATA_AT, i, true);
         while (!ring.push(DATA_AT, 4, ADDR_AT)) Atomics.wait(tail, 1, Atomics.load(tail, 1), 1);
       }`,
      { buf, RING_AT, DATA_AT, ADDR_AT, total },
    );
    const seen: number[] = [];
    const until = Date.now() + 20_000;
    while (seen.length < total && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1));
      for (const m of ring.drain()) seen.push(new DataView(m.data.buffer).getUint32(0, true));
    }
    await worker.terminate();
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
  });
});
