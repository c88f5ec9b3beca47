// sealBatch against the simplest model of it: one descriptor at a time, in order, each read
// from memory as the packets sealed before it left it, sealed with node:crypto, its status
// written after its tag. Random batches mix the lengths at which the one-packet chain
// (assembly/seal_chain.ts) runs with lengths that go four-wide, and place packets, keys and
// the descriptor array over one another: whatever the batch does ahead of time or late
// (a packet's MAC finished while the next one starts) must leave memory as the model does.
import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSharedMemory, instantiateAead, HEAP_BASE, SCRATCH_BYTES, DESC_SIZE } from "./index.js";
import { rng } from "../test/helpers.js";

const SCRATCH = HEAP_BASE;
const ARENA = SCRATCH + SCRATCH_BYTES; // everything of a batch lies in [ARENA, ARENA + ARENA_BYTES)
const ARENA_BYTES = 48 * 1024;
// Lengths where one packet at a time fills its keystream groups (the chain), and others.
const CHAIN_LENGTHS = [1200, 1216, 1409, 1420, 1424, 1472, 140, 180];
const OTHER_LENGTHS = [0, 15, 64, 200, 700, 1024, 1280, 1480];

/** One at a time over a copy of memory: what sealBatch must leave. */
function model(mem: Uint8Array, desc: number, count: number): void {
  const dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  const usable = (ptr: number, len: number): boolean =>
    ptr >= HEAP_BASE && ptr + len <= mem.length && (ptr + len <= SCRATCH || ptr >= SCRATCH + SCRATCH_BYTES);
  for (let i = 0; i < count; i++) {
    const d = desc + i * DESC_SIZE;
    const key = dv.getUint32(d, true), lo = dv.getUint32(d + 4, true), hi = dv.getUint32(d + 8, true);
    const data = dv.getUint32(d + 12, true), len = dv.getUint32(d + 16, true);
    if (len > 0xffffffef || !usable(key, 32) || !usable(data, len + 16)) {
      dv.setUint32(d + 20, 0, true);
      continue;
    }
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32LE(lo, 4);
    nonce.writeUInt32LE(hi, 8);
    const c = createCipheriv("chacha20-poly1305", mem.slice(key, key + 32), nonce, { authTagLength: 16 });
    const out = Buffer.concat([c.update(mem.slice(data, data + len)), c.final(), c.getAuthTag()]);
    mem.set(out, data);
    dv.setUint32(d + 20, 1, true);
  }
}

describe("sealBatch = one descriptor at a time, however packets, keys and descriptors overlap", () => {
  it("random batches: chain and four-wide lengths, packets over earlier packets and their tags, keys and descriptors inside packets", () => {
    const r = rng(0xc4a1);
    const memory = createSharedMemory(ARENA + ARENA_BYTES + 65536);
    const aead = instantiateAead(memory, SCRATCH);
    const u8 = new Uint8Array(memory.buffer);
    const dv = new DataView(memory.buffer);
    const end = u8.length;
    let overlapped = 0;
    for (let round = 0; round < 300; round++) {
      u8.set(r.bytes(ARENA_BYTES), ARENA);
      const count = 1 + r.int(12);
      const desc = ARENA + 4 * r.int(ARENA_BYTES / 4 - count * DESC_SIZE / 4);
      const placed: { data: number; len: number }[] = [];
      const anywhere = (len: number): number => ARENA + r.int(ARENA_BYTES - len);
      // Somewhere in packet j's bytes or tag, as far as `len` still fits the arena.
      const inside = (j: number, len: number): number => Math.min(placed[j].data + r.int(placed[j].len + 16), ARENA + ARENA_BYTES - len);
      for (let i = 0; i < count; i++) {
        const pick = r.int(4);
        const len = pick === 3 ? OTHER_LENGTHS[r.int(OTHER_LENGTHS.length)] : CHAIN_LENGTHS[r.int(CHAIN_LENGTHS.length)];
        const how = r.int(10);
        let data = anywhere(len + 16), key = anywhere(32);
        if (i > 0 && how === 0) data = inside(i - 1, len + 16); // over the packet before (its tag too)
        if (i > 0 && how === 1) key = inside(i - 1, 32); // a key in the packet before
        if (how === 2) data = Math.max(ARENA, Math.min(desc + DESC_SIZE * r.int(count) - r.int(len + 16), ARENA + ARENA_BYTES - len - 16)); // over descriptors
        if (i > 0 && how === 3) key = inside(r.int(i), 32);
        // Its tag (written last) over the next descriptor, or its own.
        if (how === 5) data = Math.max(ARENA, desc + (i + r.int(2)) * DESC_SIZE + r.int(DESC_SIZE) - len - r.int(16));
        if (how === 4 && r.int(3) === 0) data = end - len - 8; // the tag past the memory's end: status 0
        if (how <= 3 || how === 5) overlapped++;
        placed.push({ data, len });
        const d = desc + i * DESC_SIZE;
        [key, r.int(1 << 30), r.int(4), data, len, 7].forEach((v, k) => dv.setUint32(d + 4 * k, v, true));
      }
      const want = u8.slice();
      model(want, desc, count);
      aead.sealBatch(desc, count);
      const got = u8.subarray(ARENA);
      if (Buffer.compare(got, want.subarray(ARENA)) !== 0) {
        const at = got.findIndex((b, k) => b !== want[ARENA + k]);
        expect.fail(`round ${round}: ${count} packets ${JSON.stringify(placed)}, descriptors at ${desc}: first difference at ${ARENA + at}`);
      }
    }
    expect(overlapped).toBeGreaterThan(500);
  });

  it("a packet whose tag lands on the next descriptor is finished before that descriptor is read", () => {
    // Packet 0 is empty: its whole output is the 16-byte tag, at the next descriptor's data and
    // length fields. One at a time, descriptor 1 is read after the tag is there: its data
    // pointer is then random, so it gets status 0 (in the tag's last bytes) and packet 1 stays
    // as it was. Read before the tag, it would seal packet 1.
    const memory = createSharedMemory(ARENA + ARENA_BYTES);
    const aead = instantiateAead(memory, SCRATCH);
    const u8 = new Uint8Array(memory.buffer);
    const dv = new DataView(memory.buffer);
    const desc = ARENA, key = ARENA + 256, packet1 = ARENA + 1024;
    u8.set(Uint8Array.from({ length: 32 }, (_, k) => k + 1), key);
    u8.set(new Uint8Array(1420).fill(0xab), packet1);
    const fields = [[key, 5, 0, desc + DESC_SIZE + 12, 0, 7], [key, 6, 0, packet1, 1420, 7]];
    fields.forEach((f, i) => f.forEach((v, k) => dv.setUint32(desc + i * DESC_SIZE + 4 * k, v, true)));
    const want = u8.slice();
    model(want, desc, 2);
    expect(want.subarray(packet1, packet1 + 1420).every((b) => b === 0xab)).toBe(true);
    aead.sealBatch(desc, 2);
    expect(Buffer.compare(u8.subarray(ARENA), want.subarray(ARENA))).toBe(0);
  });
});
