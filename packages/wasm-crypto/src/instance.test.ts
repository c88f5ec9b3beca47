// Data-plane API: batch = single, per-packet status, hostile descriptors, fast = reference.
import { describe, expect, it } from "vitest";
import {
  createSharedMemory, instantiateAead, compileAeadModule, seal, open, HEAP_BASE, SCRATCH_BYTES,
  DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI, DESC_DATA, DESC_LENGTH, DESC_STATUS,
  writeDescriptor, descriptorOk, failDescriptor,
} from "./index.js";
import { wasmBytes } from "./_wasm.js";
import { hex, toHex, rng, vectors } from "../test/helpers.js";

const MEM = 4 << 20;
const SCRATCH = HEAP_BASE;
const DESC = SCRATCH + SCRATCH_BYTES; // 64 descriptors
const KEYS = DESC + 64 * DESC_SIZE; // 8 keys
const DATA = KEYS + 8 * 32; // 64 slots of 2048 bytes
const SLOT = 2048;

function setup() {
  const memory = createSharedMemory(MEM);
  const aead = instantiateAead(memory, SCRATCH);
  const u8 = new Uint8Array(memory.buffer);
  const dv = new DataView(memory.buffer);
  return { memory, aead, u8, dv };
}

const wgNonce = (lo: number, hi: number): Uint8Array => {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(4, lo, true);
  new DataView(n.buffer).setUint32(8, hi, true);
  return n;
};

function writeDesc(dv: DataView, i: number, key: number, lo: number, hi: number, data: number, len: number): void {
  const d = DESC + i * DESC_SIZE;
  dv.setUint32(d + DESC_KEY, key, true);
  dv.setUint32(d + DESC_COUNTER_LO, lo, true);
  dv.setUint32(d + DESC_COUNTER_HI, hi, true);
  dv.setUint32(d + DESC_DATA, data, true);
  dv.setUint32(d + DESC_LENGTH, len, true);
  dv.setUint32(d + DESC_STATUS, 0xdead, true);
}
const status = (dv: DataView, i: number): number => dv.getUint32(DESC + i * DESC_SIZE + DESC_STATUS, true);

describe("createSharedMemory", () => {
  it("is shared, rounded up to pages, fixed size", () => {
    const m = createSharedMemory(100_000);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.buffer.byteLength).toBe(2 * 65536);
    expect(() => m.grow(1)).toThrow();
    expect(createSharedMemory().buffer.byteLength).toBe(64 << 20);
    expect(() => createSharedMemory(-1)).toThrow(/^bytes/);
  });
});

describe("module", () => {
  it("has no data segment, so instantiating over a live memory writes nothing", () => {
    const b = wasmBytes();
    let p = 8;
    const sections: number[] = [];
    while (p < b.length) {
      const id = b[p++];
      let size = 0, shift = 0, byte;
      do { byte = b[p++]; size |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
      sections.push(id);
      p += size;
    }
    expect(sections).not.toContain(11); // data
    expect(sections).not.toContain(8); // start
    const { memory, u8 } = setup();
    u8.fill(0xa5);
    instantiateAead(memory, SCRATCH + SCRATCH_BYTES, compileAeadModule());
    expect(u8.every((x) => x === 0xa5)).toBe(true);
  });
});

describe("batch", () => {
  it("sealBatch equals single seal; openBatch restores; mixed keys, lengths, counters", () => {
    const r = rng(42);
    const { aead, u8, dv } = setup();
    for (let round = 0; round < 20; round++) {
      const count = 1 + r.int(64);
      const keys = Array.from({ length: 8 }, () => r.bytes(32));
      keys.forEach((k, i) => u8.set(k, KEYS + i * 32));
      const want: Uint8Array[] = [];
      const plain: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const len = r.int(4) === 0 ? r.int(40) : r.int(SLOT - 16 + 1);
        const k = r.int(8);
        const lo = r.int(2) ? 0xffffffff - r.int(3) : r.int(1 << 30);
        const hi = r.int(3) === 0 ? 0 : r.int(2) ? 0xffffffff : r.int(1 << 30);
        const pt = r.bytes(len);
        plain.push(pt);
        want.push(seal(keys[k], wgNonce(lo, hi), pt));
        u8.set(pt, DATA + i * SLOT);
        writeDesc(dv, i, KEYS + k * 32, lo, hi, DATA + i * SLOT, len);
      }
      aead.sealBatch(DESC, count);
      for (let i = 0; i < count; i++) {
        expect(status(dv, i)).toBe(1);
        expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + want[i].length))).toBe(toHex(want[i]));
        dv.setUint32(DESC + i * DESC_SIZE + DESC_LENGTH, want[i].length, true);
      }
      expect(aead.openBatch(DESC, count)).toBe(count);
      for (let i = 0; i < count; i++) {
        expect(status(dv, i)).toBe(1);
        expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + plain[i].length))).toBe(toHex(plain[i]));
      }
    }
  });

  it("openBatch reports per-packet status and leaves tampered packets untouched", () => {
    const r = rng(43);
    const { aead, u8, dv } = setup();
    const key = r.bytes(32);
    u8.set(key, KEYS);
    const count = 64;
    const sealed: Uint8Array[] = [];
    const bad = new Set<number>();
    for (let i = 0; i < count; i++) {
      const pt = r.bytes(r.int(1500));
      const s = seal(key, wgNonce(i, 7), pt);
      if (r.int(3) === 0) {
        s[r.int(s.length)] ^= 1 << r.int(8);
        bad.add(i);
      }
      sealed.push(s);
      u8.set(s, DATA + i * SLOT);
      writeDesc(dv, i, KEYS, i, 7, DATA + i * SLOT, s.length);
    }
    writeDesc(dv, 5, KEYS, 5, 8, DATA + 5 * SLOT, sealed[5].length); // wrong counter
    bad.add(5);
    expect(aead.openBatch(DESC, count)).toBe(count - bad.size);
    for (let i = 0; i < count; i++) {
      const at = u8.subarray(DATA + i * SLOT, DATA + i * SLOT + sealed[i].length);
      if (bad.has(i)) {
        expect(status(dv, i)).toBe(0);
        expect(toHex(at)).toBe(toHex(sealed[i]));
      } else {
        expect(status(dv, i)).toBe(1);
        expect(toHex(at.subarray(0, at.length - 16))).toBe(toHex(open(key, wgNonce(i, 7), sealed[i])!));
      }
    }
  });

  it("gives hostile descriptors status 0 without touching memory", () => {
    const { aead, memory, u8, dv } = setup();
    const end = memory.buffer.byteLength;
    const cases: [number, number, number][] = [
      [KEYS, end - 10, 0], // tag would pass the end
      [KEYS, end - 100, 0xffffffff], // length wraps
      [end - 16, DATA, 10], // key past the end
      [0, DATA, 10], // key in reserved low memory
      [KEYS, 8, 10], // data in reserved low memory
      [KEYS, SCRATCH + 100, 10], // data over this instance's scratch
      [KEYS, DATA, 0xfffffff0],
    ];
    cases.forEach(([k, d, len], i) => writeDesc(dv, i, k, 0, 0, d, len));
    const before = u8.slice();
    aead.sealBatch(DESC, cases.length);
    for (let i = 0; i < cases.length; i++) expect(status(dv, i)).toBe(0);
    cases.forEach(([k, d, len], i) => writeDesc(dv, i, k, 0, 0, d, len));
    expect(aead.openBatch(DESC, cases.length)).toBe(0);
    writeDesc(dv, 0, KEYS, 0, 0, DATA, 15); // shorter than a tag
    expect(aead.openBatch(DESC, 1)).toBe(0);
    expect(toHex(u8.subarray(DATA, DATA + 4096))).toBe(toHex(before.subarray(DATA, DATA + 4096)));
  });

  it("validates the descriptor array once per call", () => {
    const { aead, memory } = setup();
    expect(() => aead.sealBatch(DESC + 2, 1)).toThrow(/^descPtr must be 4-byte aligned/);
    expect(() => aead.sealBatch(memory.buffer.byteLength - 24, 2)).toThrow(/^descPtr range/);
    expect(() => aead.openBatch(16, 1)).toThrow(/^descPtr range/);
    expect(() => aead.openBatch(DESC, -1)).toThrow(/^count/);
    expect(() => aead.openBatch(DESC, 1.5)).toThrow(/^count/);
    expect(() => aead.sealBatch(SCRATCH, 1)).toThrow(/scratch/);
    expect(aead.openBatch(DESC, 0)).toBe(0);
  });
});

describe("descriptor helpers", () => {
  it("writeDescriptor writes the documented layout: six little-endian u32 at 0, 4, 8, 12, 16, 20 of a 24-byte record", () => {
    expect([DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI, DESC_DATA, DESC_LENGTH, DESC_STATUS]).toEqual([24, 0, 4, 8, 12, 16, 20]);
    const { memory, u8 } = setup();
    const i32 = new Int32Array(memory.buffer);
    const byHand = new DataView(new ArrayBuffer(3 * 24));
    const fields: [number, number, number, number, number][] = [
      [KEYS, 0, 0, DATA, 0],
      [0x89abcdef, 0xffffffff, 0x80000000, 0xfedcba98, 0xffffffef], // values >= 2^31 keep their bits
      [KEYS + 32, 0x12345678, 7, DATA + SLOT, 1420],
    ];
    u8.fill(0x5a, DESC, DESC + 3 * 24); // status words too: writeDescriptor must reset them
    fields.forEach(([key, lo, hi, data, len], j) => {
      writeDescriptor(i32, DESC, j, key, lo, hi, data, len);
      const d = j * 24;
      byHand.setUint32(d + 0, key, true);
      byHand.setUint32(d + 4, lo, true);
      byHand.setUint32(d + 8, hi, true);
      byHand.setUint32(d + 12, data, true);
      byHand.setUint32(d + 16, len, true);
      byHand.setUint32(d + 20, 0, true);
    });
    expect(toHex(u8.subarray(DESC, DESC + 3 * 24))).toBe(toHex(new Uint8Array(byHand.buffer)));
    expect(u8[DESC + 3 * 24]).toBe(0); // nothing past the last record
    expect(u8[DESC - 1]).toBe(0);
  });

  it("descriptorOk and failDescriptor read and write only the status word", () => {
    const { memory, u8, dv } = setup();
    const i32 = new Int32Array(memory.buffer);
    writeDescriptor(i32, DESC, 2, KEYS, 1, 2, DATA, 3);
    expect(descriptorOk(i32, DESC, 2)).toBe(false);
    for (const [v, ok] of [[1, true], [0, false], [2, false], [0xffffffff, false], [0x101, false]] as const) {
      dv.setUint32(DESC + 2 * DESC_SIZE + DESC_STATUS, v, true);
      expect(descriptorOk(i32, DESC, 2)).toBe(ok);
    }
    dv.setUint32(DESC + 2 * DESC_SIZE + DESC_STATUS, 1, true);
    const before = u8.slice(DESC, DESC + 4 * DESC_SIZE);
    failDescriptor(i32, DESC, 2);
    expect(descriptorOk(i32, DESC, 2)).toBe(false);
    const after = u8.slice(DESC, DESC + 4 * DESC_SIZE);
    before.fill(0, 2 * DESC_SIZE + DESC_STATUS, 3 * DESC_SIZE);
    expect(toHex(after)).toBe(toHex(before));
  });

  it("round trip: writeDescriptor -> sealBatch -> descriptorOk -> openBatch, equal to the convenience API", () => {
    const r = rng(44);
    const { aead, memory, u8 } = setup();
    const i32 = new Int32Array(memory.buffer);
    const key = r.bytes(32);
    u8.set(key, KEYS);
    const count = 48;
    const plain: Uint8Array[] = [];
    const lo = (i: number): number => 0xfffffff0 + i; // crosses into the high word
    const hi = (i: number): number => (lo(i) > 0xffffffff ? 1 : 0);
    const wrap = (i: number): number => lo(i) >>> 0;
    for (let i = 0; i < count; i++) {
      const pt = r.bytes([0, 1, 64, 191, 192, 193, 512, 1420, 1500][i % 9]);
      plain.push(pt);
      u8.set(pt, DATA + i * SLOT);
      writeDescriptor(i32, DESC, i, KEYS, wrap(i), hi(i), DATA + i * SLOT, pt.length);
    }
    aead.sealBatch(DESC, count);
    for (let i = 0; i < count; i++) {
      expect(descriptorOk(i32, DESC, i)).toBe(true);
      const want = seal(key, wgNonce(wrap(i), hi(i)), plain[i]);
      expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + want.length))).toBe(toHex(want));
      writeDescriptor(i32, DESC, i, KEYS, wrap(i), hi(i), DATA + i * SLOT, plain[i].length + 16);
    }
    u8[DATA + 7 * SLOT] ^= 1; // one tampered packet
    writeDescriptor(i32, DESC, 9, KEYS, wrap(9) + 1, hi(9), DATA + 9 * SLOT, plain[9].length + 16); // one wrong counter
    expect(aead.openBatch(DESC, count)).toBe(count - 2);
    for (let i = 0; i < count; i++) {
      expect(descriptorOk(i32, DESC, i)).toBe(i !== 7 && i !== 9);
      if (i !== 7 && i !== 9) expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + plain[i].length))).toBe(toHex(plain[i]));
    }
  });
});

describe("instance single-shot", () => {
  it("seal/open/xseal/xopen at pointers match the convenience API", () => {
    const r = rng(5);
    const { aead, u8 } = setup();
    const key = r.bytes(32), nonce = r.bytes(24), aad = r.bytes(20), pt = r.bytes(300);
    const K = KEYS, N = K + 32, A = N + 32;
    u8.set(key, K); u8.set(nonce, N); u8.set(aad, A); u8.set(pt, DATA);
    aead.seal(K, N, DATA, pt.length, A, aad.length);
    const s = u8.slice(DATA, DATA + pt.length + 16);
    expect(toHex(s)).toBe(toHex(seal(key, nonce.subarray(0, 12), pt, aad)));
    expect(aead.open(K, N, DATA, s.length, A, aad.length)).toBe(true);
    expect(toHex(u8.subarray(DATA, DATA + pt.length))).toBe(toHex(pt));
    aead.xseal(K, N, DATA, pt.length, A, aad.length);
    u8[DATA] ^= 1;
    expect(aead.xopen(K, N, DATA, pt.length + 16, A, aad.length)).toBe(false);
    u8[DATA] ^= 1;
    expect(aead.xopen(K, N, DATA, pt.length + 16, A, aad.length)).toBe(true);
    expect(toHex(u8.subarray(DATA, DATA + pt.length))).toBe(toHex(pt));
  });

  it("works at unaligned addresses (keys, nonces, AAD and data at odd offsets)", () => {
    const r = rng(6);
    const { aead, u8 } = setup();
    for (const off of [1, 3, 7, 13]) {
      const key = r.bytes(32), nonce = r.bytes(12), aad = r.bytes(17), pt = r.bytes(700 + off);
      const K = KEYS + off, N = K + 32 + off, A = N + 12 + off, D = DATA + off;
      u8.set(key, K); u8.set(nonce, N); u8.set(aad, A); u8.set(pt, D);
      aead.seal(K, N, D, pt.length, A, aad.length);
      expect(toHex(u8.subarray(D, D + pt.length + 16))).toBe(toHex(seal(key, nonce, pt, aad)));
      expect(aead.open(K, N, D, pt.length + 16, A, aad.length)).toBe(true);
      expect(toHex(u8.subarray(D, D + pt.length))).toBe(toHex(pt));
    }
  });

  it("checks pointers and sizes", () => {
    const { aead, memory } = setup();
    const end = memory.buffer.byteLength;
    expect(() => aead.seal(KEYS, KEYS, end - 20, 10)).toThrow(/^dataPtr range/);
    expect(() => aead.seal(end - 8, KEYS, DATA, 10)).toThrow(/^keyPtr range/);
    expect(() => aead.seal(KEYS, 4, DATA, 10)).toThrow(/^noncePtr range/);
    expect(() => aead.open(KEYS, KEYS, DATA, 10, end, 5)).toThrow(/^aadPtr range/);
    expect(() => aead.seal(KEYS, KEYS, DATA, -1)).toThrow(/^length/);
    expect(() => aead.seal(KEYS, KEYS, SCRATCH, 10)).toThrow(/scratch/);
  });

  it("instantiateAead refuses a bad memory, scratch or module", () => {
    const memory = createSharedMemory(1 << 20);
    expect(() => instantiateAead(new WebAssembly.Memory({ initial: 1 }), HEAP_BASE)).toThrow(/^memory must be a shared/);
    expect(() => instantiateAead({} as never, HEAP_BASE)).toThrow(/^memory/);
    expect(() => instantiateAead(memory, 0)).toThrow(/^scratchPtr/);
    expect(() => instantiateAead(memory, HEAP_BASE + 8)).toThrow(/^scratchPtr must be 16-byte aligned/);
    expect(() => instantiateAead(memory, (1 << 20) - 1024)).toThrow(/^scratchPtr range/);
    expect(() => instantiateAead(memory, HEAP_BASE, {} as never)).toThrow(/^module/);
  });
});

describe("fast path = scalar reference", () => {
  it("agrees for lengths 0..1100 and AAD 0..40, seal and open", () => {
    const r = rng(77);
    const { aead, u8 } = setup();
    const { raw } = aead;
    const K = KEYS, N = K + 32, A = N + 32, B = DATA + 8192;
    for (let len = 0; len <= 1100; len++) {
      const pt = r.bytes(len), aad = r.bytes(r.int(41));
      u8.set(r.bytes(32), K); u8.set(r.bytes(12), N); u8.set(aad, A);
      u8.set(pt, DATA); u8.set(pt, B);
      raw.seal(K, N, DATA, len, A, aad.length);
      raw.sealRef(K, N, B, len, A, aad.length);
      if (toHex(u8.subarray(DATA, DATA + len + 16)) !== toHex(u8.subarray(B, B + len + 16))) expect.fail(`seal ${len}`);
      if (raw.open(K, N, DATA, len + 16, A, aad.length) !== 1 || raw.openRef(K, N, B, len + 16, A, aad.length) !== 1) {
        expect.fail(`open ${len}`);
      }
      if (toHex(u8.subarray(DATA, DATA + len)) !== toHex(pt)) expect.fail(`plaintext ${len}`);
    }
  });

  it("agrees on long messages (two-pass open, 4096..9000 bytes)", () => {
    const r = rng(78);
    const key = r.bytes(32), nonce = r.bytes(12);
    for (const len of [4095, 4096, 4097, 4160, 5000, 9000]) {
      const pt = r.bytes(len);
      const s = seal(key, nonce, pt);
      expect(toHex(open(key, nonce, s)!)).toBe(toHex(pt));
      s[len - 1] ^= 0x80;
      expect(open(key, nonce, s)).toBeNull();
    }
  });

  it("HChaCha20 matches draft-irtf-cfrg-xchacha §2.2.1", () => {
    const v = vectors<{ hchacha20: { key: string; nonce: string; subkey: string }[] }>("rfc8439.json").hchacha20[0];
    const { aead, u8 } = setup();
    u8.set(hex(v.key), KEYS);
    u8.set(hex(v.nonce), KEYS + 32);
    aead.raw.hchacha20(KEYS, KEYS + 32, DATA);
    expect(toHex(u8.subarray(DATA, DATA + 32))).toBe(v.subkey);
  });
});
