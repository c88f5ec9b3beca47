// The batch path's four-packets-side-by-side code (assembly/quad.ts): equal to node:crypto
// and to the scalar reference for every length, on mixed batches with forgeries, and on the
// published vectors that the batch path can express (empty AAD; any nonce through the test
// export sealBatchNonce/openBatchNonce).
import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSharedMemory, instantiateAead, HEAP_BASE, SCRATCH_BYTES, DESC_SIZE, writeDescriptor, descriptorOk } from "./index.js";
import { hex, toHex, rng, vectors, type WycheproofAead } from "../test/helpers.js";

const SCRATCH = HEAP_BASE;
const DESC = SCRATCH + SCRATCH_BYTES; // 64 descriptors
const N0S = DESC + 64 * DESC_SIZE; // 64 first nonce words
const KEYS = N0S + 64 * 4; // 64 keys
const NONCES = KEYS + 64 * 32; // 64 nonces, for the reference
const DATA = 16384; // 64 slots
const SLOT = 4096;
const REF = DATA + 64 * SLOT; // reference copies

function setup() {
  const memory = createSharedMemory(2 * REF);
  const aead = instantiateAead(memory, SCRATCH);
  return { aead, raw: aead.raw, u8: new Uint8Array(memory.buffer), i32: new Int32Array(memory.buffer), dv: new DataView(memory.buffer) };
}

const wgNonce = (lo: number, hi: number): Buffer => {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(lo, 4);
  n.writeUInt32LE(hi, 8);
  return n;
};

function nodeSeal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): string {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]).toString("hex");
}

interface Packet { key: Uint8Array; lo: number; hi: number; pt: Uint8Array }

/** Writes packets to slots 0..n-1 with seal descriptors; keys at KEYS + 32*i. */
function place(s: ReturnType<typeof setup>, ps: Packet[], open: boolean, sealed?: Uint8Array[]): void {
  ps.forEach((p, i) => {
    s.u8.set(p.key, KEYS + 32 * i);
    s.u8.set(sealed ? sealed[i] : p.pt, DATA + i * SLOT);
    writeDescriptor(s.i32, DESC, i, KEYS + 32 * i, p.lo, p.hi, DATA + i * SLOT, p.pt.length + (open ? 16 : 0));
  });
}

describe("four packets side by side (quad.ts)", () => {
  it("equals node:crypto and the scalar reference for every length 0..2048, four and five packets of one length, seal and open", () => {
    const r = rng(0x4444);
    const s = setup();
    for (let len = 0; len <= 2048; len++) {
      const n = len % 2 ? 5 : 4; // the fifth goes through the one-packet code after the quad
      const ps: Packet[] = Array.from({ length: n }, () => ({ key: r.bytes(32), lo: r.int(1 << 30), hi: r.int(3), pt: r.bytes(len) }));
      place(s, ps, false);
      s.aead.sealBatch(DESC, n);
      for (let i = 0; i < n; i++) {
        const got = toHex(s.u8.subarray(DATA + i * SLOT, DATA + i * SLOT + len + 16));
        if (!descriptorOk(s.i32, DESC, i) || got !== nodeSeal(ps[i].key, wgNonce(ps[i].lo, ps[i].hi), ps[i].pt)) {
          expect.fail(`seal, length ${len}, packet ${i}`);
        }
        if (i === 0) {
          // The scalar reference (a different code path: one block at a time).
          s.u8.set(wgNonce(ps[0].lo, ps[0].hi), NONCES);
          s.u8.set(ps[0].pt, REF);
          s.raw.sealRef(KEYS, NONCES, REF, len, 0, 0);
          if (toHex(s.u8.subarray(REF, REF + len + 16)) !== got) expect.fail(`reference, length ${len}`);
        }
      }
      ps.forEach((_, i) => writeDescriptor(s.i32, DESC, i, KEYS + 32 * i, ps[i].lo, ps[i].hi, DATA + i * SLOT, len + 16));
      if (s.aead.openBatch(DESC, n) !== n) expect.fail(`open, length ${len}`);
      for (let i = 0; i < n; i++) {
        if (toHex(s.u8.subarray(DATA + i * SLOT, DATA + i * SLOT + len)) !== toHex(ps[i].pt)) expect.fail(`plaintext, length ${len}, packet ${i}`);
      }
    }
  });

  it("mixed batches: random lengths, keys and order, 1..64 packets, forgeries at random places fail and stay untouched", () => {
    const r = rng(0xf0f0);
    const s = setup();
    let quads = 0;
    for (let round = 0; round < 300; round++) {
      const count = 1 + r.int(64);
      const keys = Array.from({ length: 1 + r.int(6) }, () => r.bytes(32));
      // Runs of near-equal lengths (so that quads form), odd ones between them.
      const ps: Packet[] = [];
      while (ps.length < count) {
        const base = r.int(4) === 0 ? r.int(100) : r.int(SLOT - 16 - 300);
        const run = 1 + r.int(9);
        for (let k = 0; k < run && ps.length < count; k++) {
          const len = r.int(3) === 0 ? base + r.int(300) : base + r.int(64);
          ps.push({ key: keys[r.int(keys.length)], lo: r.int(2) ? 0xffffffff - r.int(3) : r.int(1 << 30), hi: r.int(2) ? 0 : r.int(1 << 30), pt: r.bytes(len) });
        }
      }
      quads += Math.floor(count / 4);
      place(s, ps, false);
      s.aead.sealBatch(DESC, count);
      const sealed = ps.map((p, i) => {
        const want = nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt);
        const got = s.u8.slice(DATA + i * SLOT, DATA + i * SLOT + p.pt.length + 16);
        if (!descriptorOk(s.i32, DESC, i) || toHex(got) !== want) expect.fail(`round ${round}: seal of packet ${i} (length ${p.pt.length})`);
        return got;
      });
      // Forge some: flip a bit anywhere in ciphertext or tag, or use a wrong counter.
      const forged = new Set<number>();
      const wrongCounter = new Set<number>();
      for (let i = 0; i < count; i++) {
        if (r.int(5) !== 0) continue;
        forged.add(i);
        if (r.int(4) === 0) wrongCounter.add(i);
        else sealed[i][r.int(sealed[i].length)] ^= 1 << r.int(8);
      }
      place(s, ps, true, sealed);
      for (const i of wrongCounter) writeDescriptor(s.i32, DESC, i, KEYS + 32 * i, ps[i].lo ^ 1, ps[i].hi, DATA + i * SLOT, ps[i].pt.length + 16);
      const before = s.u8.slice(DATA, DATA + count * SLOT);
      if (s.aead.openBatch(DESC, count) !== count - forged.size) expect.fail(`round ${round}: authentic count`);
      for (let i = 0; i < count; i++) {
        const slot = s.u8.subarray(DATA + i * SLOT, DATA + (i + 1) * SLOT);
        if (forged.has(i)) {
          if (descriptorOk(s.i32, DESC, i)) expect.fail(`round ${round}: forged packet ${i} opened`);
          if (toHex(slot) !== toHex(before.subarray(i * SLOT, (i + 1) * SLOT))) expect.fail(`round ${round}: forged packet ${i} written`);
        } else {
          if (!descriptorOk(s.i32, DESC, i)) expect.fail(`round ${round}: packet ${i} (length ${ps[i].pt.length}) did not open`);
          if (toHex(slot.subarray(0, ps[i].pt.length)) !== toHex(ps[i].pt)) expect.fail(`round ${round}: plaintext of packet ${i}`);
          // Past the plaintext, the tag and the rest of the slot are as they were.
          if (toHex(slot.subarray(ps[i].pt.length)) !== toHex(before.subarray(i * SLOT + ps[i].pt.length, (i + 1) * SLOT))) {
            expect.fail(`round ${round}: packet ${i} wrote past its plaintext`);
          }
        }
      }
    }
    expect(quads).toBeGreaterThan(1000);
  });

  it("packets that overlap each other or a key go one at a time, with the one-at-a-time result", () => {
    const r = rng(0xabcd);
    const s = setup();
    const key = r.bytes(32);
    const pt = r.bytes(600);
    // Four descriptors over one packet: sealed four times in a row, counters 0..3.
    s.u8.set(key, KEYS);
    s.u8.set(pt, DATA);
    for (let i = 0; i < 4; i++) writeDescriptor(s.i32, DESC, i, KEYS, i, 0, DATA, pt.length);
    s.aead.sealBatch(DESC, 4);
    let want: Uint8Array = pt;
    for (let i = 0; i < 4; i++) want = Uint8Array.from(Buffer.from(nodeSeal(key, wgNonce(i, 0), want.subarray(0, pt.length)), "hex"));
    expect(toHex(s.u8.subarray(DATA, DATA + pt.length))).toBe(toHex(want.subarray(0, pt.length)));
    // A key inside the next packet: that packet's sealing changes the key of the ones after it.
    s.u8.set(pt, DATA);
    for (let i = 0; i < 4; i++) s.u8.set(pt, DATA + (i + 1) * SLOT);
    s.u8.set(key, DATA + 2 * SLOT + 100);
    for (let i = 0; i < 4; i++) writeDescriptor(s.i32, DESC, i, DATA + 2 * SLOT + 100, i, 0, DATA + (i + 1) * SLOT, pt.length);
    s.aead.sealBatch(DESC, 4);
    const pt1 = pt.slice();
    pt1.set(key, 100);
    const k2 = Uint8Array.from(Buffer.from(nodeSeal(key, wgNonce(1, 0), pt1), "hex").subarray(100, 132));
    expect(toHex(s.u8.subarray(DATA + 1 * SLOT, DATA + 1 * SLOT + 616))).toBe(nodeSeal(key, wgNonce(0, 0), pt));
    expect(toHex(s.u8.subarray(DATA + 3 * SLOT, DATA + 3 * SLOT + 616))).toBe(nodeSeal(k2, wgNonce(2, 0), pt));
  });

  it("openBatch: a quad over the packets or with its keys in the packets of the quad before it opens as one at a time would", () => {
    const r = rng(0x7e57);
    const s = setup();
    const ps: Packet[] = Array.from({ length: 4 }, () => ({ key: r.bytes(32), lo: r.int(1000), hi: 0, pt: r.bytes(700) }));
    const sealed = ps.map((p) => Uint8Array.from(Buffer.from(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt), "hex")));
    place(s, ps, true, sealed);
    for (let i = 0; i < 4; i++) writeDescriptor(s.i32, DESC, 4 + i, KEYS + 32 * i, ps[i].lo, ps[i].hi, DATA + i * SLOT, 716);
    // A third quad apart from both, to be MACed while the second is (not) decrypted.
    const more: Packet[] = Array.from({ length: 4 }, () => ({ key: r.bytes(32), lo: r.int(1000), hi: 0, pt: r.bytes(700) }));
    more.forEach((p, i) => {
      s.u8.set(p.key, KEYS + 32 * (8 + i));
      s.u8.set(Buffer.from(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt), "hex"), DATA + (8 + i) * SLOT);
      writeDescriptor(s.i32, DESC, 8 + i, KEYS + 32 * (8 + i), p.lo, p.hi, DATA + (8 + i) * SLOT, 716);
    });
    expect(s.aead.openBatch(DESC, 12)).toBe(8);
    for (let i = 0; i < 4; i++) {
      expect(descriptorOk(s.i32, DESC, i)).toBe(true);
      expect(descriptorOk(s.i32, DESC, 4 + i)).toBe(false);
      expect(descriptorOk(s.i32, DESC, 8 + i)).toBe(true);
      expect(toHex(s.u8.subarray(DATA + i * SLOT, DATA + i * SLOT + 700))).toBe(toHex(ps[i].pt));
      expect(toHex(s.u8.subarray(DATA + i * SLOT + 700, DATA + i * SLOT + 716))).toBe(toHex(sealed[i].subarray(700)));
      expect(toHex(s.u8.subarray(DATA + (8 + i) * SLOT, DATA + (8 + i) * SLOT + 700))).toBe(toHex(more[i].pt));
    }
    // A quad whose keys lie in the packets of the quad before it: one at a time, it reads
    // them after they are decrypted, so it was sealed with the plaintext bytes as keys.
    place(s, ps, true, sealed);
    const keyed: Packet[] = ps.map((p) => ({ key: p.pt.slice(100, 132), lo: r.int(1000), hi: 0, pt: r.bytes(700) }));
    keyed.forEach((p, i) => {
      s.u8.set(Buffer.from(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt), "hex"), DATA + (4 + i) * SLOT);
      writeDescriptor(s.i32, DESC, 4 + i, DATA + i * SLOT + 100, p.lo, p.hi, DATA + (4 + i) * SLOT, 716);
    });
    expect(s.aead.openBatch(DESC, 8)).toBe(8);
    for (let i = 0; i < 4; i++) expect(toHex(s.u8.subarray(DATA + (4 + i) * SLOT, DATA + (4 + i) * SLOT + 700))).toBe(toHex(keyed[i].pt));
  });

  it("openBatch: descriptors inside a packet of the quad before them are read as that quad's plaintext, as one at a time would", () => {
    const r = rng(0xd35c);
    const s = setup();
    // Quad 1: packet 0 lies over descriptors 4..7. Before the batch they read as valid
    // descriptors A (four sealed packets in slots 4..7); once packet 0 is decrypted they are
    // A ^ keystream, which point nowhere usable.
    const ps: Packet[] = Array.from({ length: 4 }, () => ({ key: r.bytes(32), lo: r.int(1000), hi: 0, pt: r.bytes(700) }));
    const at = [DESC + 4 * DESC_SIZE, DATA + SLOT, DATA + 2 * SLOT, DATA + 3 * SLOT];
    const a = new DataView(new ArrayBuffer(96));
    const quad2: Packet[] = Array.from({ length: 4 }, () => ({ key: r.bytes(32), lo: r.int(1000), hi: 0, pt: r.bytes(700) }));
    quad2.forEach((p, i) => {
      s.u8.set(p.key, KEYS + 32 * (4 + i));
      s.u8.set(Buffer.from(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt), "hex"), DATA + (4 + i) * SLOT);
      [KEYS + 32 * (4 + i), p.lo, p.hi, DATA + (4 + i) * SLOT, 716, 0].forEach((v, k) => a.setUint32(24 * i + 4 * k, v, true));
    });
    // Packet 0's plaintext is chosen so that its first 96 ciphertext bytes are A.
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(1, 0); // block 1: the first data block
    iv.set(wgNonce(ps[0].lo, 0), 4);
    const ks = createCipheriv("chacha20", ps[0].key, iv).update(Buffer.alloc(96));
    for (let k = 0; k < 96; k++) ps[0].pt[k] = a.getUint8(k) ^ ks[k];
    const bView = new DataView(ps[0].pt.buffer, ps[0].pt.byteOffset, 96);
    for (let i = 0; i < 4; i++) expect(bView.getUint32(24 * i + 12, true)).toBeGreaterThan(2 * REF); // B's data out of memory
    ps.forEach((p, i) => {
      s.u8.set(p.key, KEYS + 32 * i);
      const c = Buffer.from(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt), "hex");
      s.u8.set(c, at[i]);
      writeDescriptor(s.i32, DESC, i, KEYS + 32 * i, p.lo, p.hi, at[i], 716);
    });
    expect(toHex(s.u8.subarray(DESC + 4 * DESC_SIZE, DESC + 8 * DESC_SIZE))).toBe(toHex(new Uint8Array(a.buffer)));
    // One at a time: quad 1 opens; descriptors 4..7 are then B, unusable: status 0 (written
    // into packet 0's plaintext, where they lie); slots 4..7 untouched.
    expect(s.aead.openBatch(DESC, 8)).toBe(4);
    const want0 = ps[0].pt.slice();
    for (let i = 0; i < 4; i++) want0.fill(0, 24 * i + 20, 24 * i + 24);
    expect(toHex(s.u8.subarray(at[0], at[0] + 700))).toBe(toHex(want0));
    for (let i = 1; i < 4; i++) expect(toHex(s.u8.subarray(at[i], at[i] + 700))).toBe(toHex(ps[i].pt));
    quad2.forEach((p, i) => expect(toHex(s.u8.subarray(DATA + (4 + i) * SLOT, DATA + (4 + i) * SLOT + 716))).toBe(nodeSeal(p.key, wgNonce(p.lo, p.hi), p.pt)));
  });

  it("Wycheproof ChaCha20-Poly1305 vectors with empty AAD pass through sealBatchNonce/openBatchNonce, four at a time", () => {
    const tests = vectors<WycheproofAead>("chacha20_poly1305_test.json").testGroups
      .filter((g) => g.ivSize === 96).flatMap((g) => g.tests).filter((t) => t.aad === "");
    expect(tests.length).toBeGreaterThan(40);
    expect(tests.filter((t) => t.msg.length >= 128).length).toBeGreaterThanOrEqual(8); // long enough for a quad
    const s = setup();
    // Each vector four times (all four lanes of a quad), then as the odd one after a quad.
    for (const t of tests) {
      const key = hex(t.key), iv = hex(t.iv), msg = hex(t.msg), sealed = hex(t.ct + t.tag);
      const ivv = new DataView(iv.buffer, iv.byteOffset, 12), n = 5;
      for (let i = 0; i < n; i++) {
        s.u8.set(key, KEYS + 32 * i);
        s.dv.setUint32(N0S + 4 * i, ivv.getUint32(0, true), true);
        writeDescriptor(s.i32, DESC, i, KEYS + 32 * i, ivv.getUint32(4, true), ivv.getUint32(8, true), DATA + i * SLOT, msg.length);
        s.u8.set(msg, DATA + i * SLOT);
      }
      if (t.result === "valid") {
        s.raw.sealBatchNonce(DESC, n, N0S);
        for (let i = 0; i < n; i++) expect(toHex(s.u8.subarray(DATA + i * SLOT, DATA + i * SLOT + sealed.length)), `tcId ${t.tcId}`).toBe(t.ct + t.tag);
      }
      for (let i = 0; i < n; i++) {
        s.u8.set(sealed, DATA + i * SLOT);
        s.dv.setUint32(DESC + i * DESC_SIZE + 16, sealed.length, true);
      }
      const ok = s.raw.openBatchNonce(DESC, n, N0S);
      expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(t.result === "valid" ? n : 0);
      for (let i = 0; i < n; i++) {
        const at = s.u8.subarray(DATA + i * SLOT, DATA + i * SLOT + sealed.length);
        expect(toHex(t.result === "valid" ? at.subarray(0, msg.length) : at), `tcId ${t.tcId}`).toBe(t.result === "valid" ? t.msg : toHex(sealed));
      }
    }
  });
});
