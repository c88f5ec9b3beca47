// No secret outlives a call: after every entry point (single calls, batches, failed opens,
// the convenience API) the instance's scratch is all zero, and none of the key, the
// keystream (block 0 = the Poly1305 key) or the XChaCha20 subkey is found in it. The expected
// keystream comes from node:crypto's chacha20, the subkey from the HChaCha20 below.
import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createSharedMemory, instantiateAead, SCRATCH_BYTES, DESC_SIZE,
  writeDescriptor, descriptorOk,
} from "./index.js";
import { _privateHeapForTests, seal, open, xseal, xopen } from "./aead.js";
import { hex, toHex, rng, vectors } from "../test/helpers.js";

const SCR = 64 * 1024; // the instance's scratch, with sentinels on both sides
const GUARD = 256;
const KEY = 128 * 1024, NONCE = KEY + 64, AAD = NONCE + 64, DESC = AAD + 256;
const DATA = 192 * 1024, SLOT = 8192;
const LENGTHS = [0, 1, 63, 100, 191, 192, 193, 512, 1420, 4080, 4081, 5000];

/** ChaCha20 keystream of (key, 12-byte nonce) from block 0, `blocks` blocks, by node:crypto. */
function keystream(key: Uint8Array, nonce: Uint8Array, blocks: number): Uint8Array {
  const iv = new Uint8Array(16); // block counter (LE u32) || nonce, OpenSSL's chacha20 IV
  iv.set(nonce, 4);
  return new Uint8Array(createCipheriv("chacha20", key, iv).update(new Uint8Array(blocks * 64)));
}

/** HChaCha20 (draft-irtf-cfrg-xchacha §2.2), written out here so the test does not trust the module. */
function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const s = new Uint32Array(16);
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
  const k = new DataView(key.buffer, key.byteOffset, 32), n = new DataView(nonce16.buffer, nonce16.byteOffset, 16);
  for (let i = 0; i < 8; i++) s[4 + i] = k.getUint32(4 * i, true);
  for (let i = 0; i < 4; i++) s[12 + i] = n.getUint32(4 * i, true);
  const rotl = (x: number, c: number): number => (x << c) | (x >>> (32 - c));
  const qr = (a: number, b: number, c: number, d: number): void => {
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 16);
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 12);
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 8);
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 7);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
  }
  const out = new DataView(new ArrayBuffer(32));
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => out.setUint32(4 * i, s[w], true));
  return new Uint8Array(out.buffer);
}

interface Secret { name: string; bytes: Uint8Array }

/** The secrets of one message: key, Poly1305 key, keystream (blocks 0.. past the last group used). */
function secretsOf(key: Uint8Array, nonce12: Uint8Array, len: number, tag: string): Secret[] {
  const ks = keystream(key, nonce12, Math.ceil(len / 64) + 8);
  return [
    { name: `${tag} key`, bytes: key },
    { name: `${tag} Poly1305 key`, bytes: ks.subarray(0, 32) },
    { name: `${tag} keystream`, bytes: ks },
  ];
}

/** The secrets of an XChaCha20-Poly1305 message: key, subkey, and those of the inner message. */
function xsecretsOf(key: Uint8Array, nonce24: Uint8Array, len: number): Secret[] {
  const sub = hchacha20(key, nonce24.subarray(0, 16));
  const inner = new Uint8Array(12);
  inner.set(nonce24.subarray(16), 4);
  return [{ name: "x key", bytes: key }, { name: "x subkey", bytes: sub }, ...secretsOf(sub, inner, len, "x inner")];
}

/** Every 8-byte piece of a secret found in `region`, as "name +offset at region offset". */
function findSecrets(region: Uint8Array, secrets: Secret[]): string[] {
  const hay = Buffer.from(region.buffer, region.byteOffset, region.length);
  const found: string[] = [];
  for (const { name, bytes } of secrets) {
    for (let i = 0; i + 8 <= bytes.length; i += 8) {
      const at = hay.indexOf(bytes.subarray(i, i + 8));
      if (at >= 0) found.push(`${name} +${i} at ${at}`);
    }
  }
  return found;
}

function setup() {
  const memory = createSharedMemory(1 << 20);
  const aead = instantiateAead(memory, SCR);
  const u8 = new Uint8Array(memory.buffer);
  u8.fill(0xa5, SCR - GUARD, SCR);
  u8.fill(0xa5, SCR + SCRATCH_BYTES, SCR + SCRATCH_BYTES + GUARD);
  const scratch = u8.subarray(SCR, SCR + SCRATCH_BYTES);
  // After a call: the whole scratch is zero, no secret is in it, and the wipe stayed inside it.
  const clean = (what: string, secrets: Secret[]): void => {
    const found = findSecrets(scratch, secrets);
    if (found.length > 0) expect.fail(`${what}: secrets left in scratch: ${found.slice(0, 5).join(", ")}`);
    const dirty = scratch.findIndex((b) => b !== 0);
    if (dirty >= 0) expect.fail(`${what}: scratch byte ${dirty} is ${scratch[dirty]}, not 0`);
    const guards = [...u8.subarray(SCR - GUARD, SCR), ...u8.subarray(SCR + SCRATCH_BYTES, SCR + SCRATCH_BYTES + GUARD)];
    if (!guards.every((b) => b === 0xa5)) expect.fail(`${what}: wrote outside the scratch region`);
  };
  return { memory, aead, u8, scratch, clean };
}

describe("test helpers", () => {
  it("HChaCha20 here matches draft-irtf-cfrg-xchacha §2.2.1, and findSecrets finds a planted secret", () => {
    const v = vectors<{ hchacha20: { key: string; nonce: string; subkey: string }[] }>("rfc8439.json").hchacha20[0];
    expect(toHex(hchacha20(hex(v.key), hex(v.nonce)))).toBe(v.subkey);
    const { scratch } = setup();
    const key = rng(1).bytes(32);
    const secrets = secretsOf(key, new Uint8Array(12), 100, "planted");
    scratch.set(secrets[2].bytes.subarray(70, 90), 3000);
    expect(findSecrets(scratch, secrets)).toEqual(["planted keystream +72 at 3002", "planted keystream +80 at 3010"]);
  });
});

describe("scratch is wiped", () => {
  it("after seal, open, a failed open, xseal, xopen and a failed xopen at pointers, every length", () => {
    const r = rng(21);
    const { aead, u8, clean } = setup();
    for (const len of LENGTHS) {
      const key = r.bytes(32), nonce = r.bytes(24), aad = r.bytes(1 + r.int(40)), pt = r.bytes(len);
      u8.set(key, KEY); u8.set(nonce, NONCE); u8.set(aad, AAD); u8.set(pt, DATA);
      const s = secretsOf(key, nonce.subarray(0, 12), len, `len ${len}`);
      const x = xsecretsOf(key, nonce, len);
      aead.seal(KEY, NONCE, DATA, len, AAD, aad.length);
      clean(`seal ${len}`, s);
      expect(aead.open(KEY, NONCE, DATA, len + 16, AAD, aad.length)).toBe(true);
      clean(`open ${len}`, s);
      aead.seal(KEY, NONCE, DATA, len, AAD, aad.length);
      u8[DATA + len] ^= 1; // tag: the module computes the whole keystream, then refuses
      expect(aead.open(KEY, NONCE, DATA, len + 16, AAD, aad.length)).toBe(false);
      clean(`failed open ${len}`, s);
      u8.set(pt, DATA);
      aead.xseal(KEY, NONCE, DATA, len, AAD, aad.length);
      clean(`xseal ${len}`, x);
      expect(aead.xopen(KEY, NONCE, DATA, len + 16, AAD, aad.length)).toBe(true);
      expect(toHex(u8.subarray(DATA, DATA + len))).toBe(toHex(pt));
      clean(`xopen ${len}`, x);
      aead.xseal(KEY, NONCE, DATA, len, AAD, aad.length);
      u8[DATA + len + 15] ^= 0x80;
      expect(aead.xopen(KEY, NONCE, DATA, len + 16, AAD, aad.length)).toBe(false);
      clean(`failed xopen ${len}`, x);
    }
  });

  it("after opens too short to hold a tag (xopen has derived the subkey by then)", () => {
    const r = rng(22);
    const { aead, u8, clean } = setup();
    const key = r.bytes(32), nonce = r.bytes(24);
    u8.set(key, KEY); u8.set(nonce, NONCE);
    expect(aead.xopen(KEY, NONCE, DATA, 15)).toBe(false);
    clean("xopen of 15 bytes", xsecretsOf(key, nonce, 0));
    expect(aead.open(KEY, NONCE, DATA, 0)).toBe(false);
    clean("open of 0 bytes", secretsOf(key, nonce.subarray(0, 12), 0, "short"));
  });

  it("after the scalar reference and the raw HChaCha20 export", () => {
    const r = rng(23);
    const { aead, u8, clean } = setup();
    const { raw } = aead;
    for (const len of [0, 70, 1420]) {
      const key = r.bytes(32), nonce = r.bytes(24);
      u8.set(key, KEY); u8.set(nonce, NONCE); u8.set(r.bytes(len), DATA);
      const s = secretsOf(key, nonce.subarray(0, 12), len, `ref ${len}`);
      raw.sealRef(KEY, NONCE, DATA, len, 0, 0);
      clean(`sealRef ${len}`, s);
      u8[DATA + len] ^= 1;
      expect(raw.openRef(KEY, NONCE, DATA, len + 16, 0, 0)).toBe(0);
      clean(`failed openRef ${len}`, s);
      u8[DATA + len] ^= 1;
      expect(raw.openRef(KEY, NONCE, DATA, len + 16, 0, 0)).toBe(1);
      clean(`openRef ${len}`, s);
      raw.hchacha20(KEY, NONCE, DATA);
      expect(toHex(u8.subarray(DATA, DATA + 32))).toBe(toHex(hchacha20(key, nonce.subarray(0, 16))));
      clean("hchacha20", xsecretsOf(key, nonce, 0));
    }
  });

  it("after sealBatch and openBatch, with failed opens and a hostile descriptor in the batch", () => {
    const r = rng(24);
    const { aead, memory, u8, clean } = setup();
    const i32 = new Int32Array(memory.buffer);
    const keys = [r.bytes(32), r.bytes(32)];
    keys.forEach((k, i) => u8.set(k, KEY + 32 * i));
    const n = LENGTHS.length;
    const secrets: Secret[] = [];
    const plain = LENGTHS.map((len, i) => {
      const pt = r.bytes(len);
      u8.set(pt, DATA + i * SLOT);
      const counter = 1000 + i;
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setUint32(4, counter, true);
      secrets.push(...secretsOf(keys[i & 1], nonce, len, `desc ${i}`));
      writeDescriptor(i32, DESC, i, KEY + 32 * (i & 1), counter, 0, DATA + i * SLOT, len);
      return pt;
    });
    writeDescriptor(i32, DESC, n, KEY, 0, 0, SCR + 64, 100); // data over the scratch: refused
    aead.sealBatch(DESC, n + 1);
    expect(descriptorOk(i32, DESC, n)).toBe(false);
    clean("sealBatch", secrets);
    // Two packets, too few for a quad: the chain's second Poly1305 area is wiped as well.
    const chain = DESC + (n + 4) * DESC_SIZE;
    [1420, 100].forEach((len, i) => {
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setUint32(4, 7 + i, true);
      secrets.push(...secretsOf(keys[i], nonce, len, `chain ${i}`));
      writeDescriptor(i32, chain, i, KEY + 32 * i, 7 + i, 0, DATA + (n + i) * SLOT, len);
    });
    aead.sealBatch(chain, 2);
    clean("sealBatch of two", secrets);
    for (let i = 0; i < n; i++) {
      expect(descriptorOk(i32, DESC, i)).toBe(true);
      writeDescriptor(i32, DESC, i, KEY + 32 * (i & 1), 1000 + i, 0, DATA + i * SLOT, LENGTHS[i] + 16);
    }
    // Tamper with the longest one-pass open (its keystream fills S_KS) and a short one.
    const bad = [LENGTHS.indexOf(4080), LENGTHS.indexOf(100)];
    for (const i of bad) u8[DATA + i * SLOT + LENGTHS[i]] ^= 1;
    writeDescriptor(i32, DESC, n, KEY, 0, 0, SCR + 64, 100);
    expect(aead.openBatch(DESC, n + 1)).toBe(n - bad.length);
    clean("openBatch", secrets);
    for (let i = 0; i < n; i++) {
      expect(descriptorOk(i32, DESC, i)).toBe(!bad.includes(i));
      if (!bad.includes(i)) expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + LENGTHS[i]))).toBe(toHex(plain[i]));
    }
    // A batch whose only packet fails: the keystream computed for it is wiped as well.
    const only = bad[0];
    writeDescriptor(i32, DESC + (n + 2) * DESC_SIZE, 0, KEY, 1000 + only, 0, DATA + only * SLOT, LENGTHS[only] + 16);
    expect(aead.openBatch(DESC + (n + 2) * DESC_SIZE, 1)).toBe(0);
    clean("openBatch of one failed packet", secrets);
  });

  it("after sealBatch and openBatch of quads (four packets side by side), a forged packet in one quad, a quad of forgeries", () => {
    const r = rng(25);
    const { aead, memory, u8, clean } = setup();
    const i32 = new Int32Array(memory.buffer);
    const keys = Array.from({ length: 4 }, () => r.bytes(32));
    keys.forEach((k, i) => u8.set(k, KEY + 32 * i));
    const lengths = [64, 100, 512, 700, 1024, 1420, 2000].flatMap((l) => [l, l, l, l]).concat([600, 650, 700, 840]);
    const n = lengths.length;
    const secrets: Secret[] = [];
    const plain = lengths.map((len, i) => {
      const pt = r.bytes(len);
      u8.set(pt, DATA + i * SLOT);
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setUint32(4, 5000 + i, true);
      secrets.push(...secretsOf(keys[i & 3], nonce, len, `desc ${i}`));
      writeDescriptor(i32, DESC, i, KEY + 32 * (i & 3), 5000 + i, 0, DATA + i * SLOT, len);
      return pt;
    });
    aead.sealBatch(DESC, n);
    clean("sealBatch of quads", secrets);
    const sealed = lengths.map((len, i) => u8.slice(DATA + i * SLOT, DATA + i * SLOT + len + 16));
    for (let i = 0; i < n; i++) writeDescriptor(i32, DESC, i, KEY + 32 * (i & 3), 5000 + i, 0, DATA + i * SLOT, lengths[i] + 16);
    const bad = [9, 18]; // in the 512-byte and the 1024-byte quads
    for (const i of bad) u8[DATA + i * SLOT + 3] ^= 4;
    expect(aead.openBatch(DESC, n)).toBe(n - bad.length);
    clean("openBatch of quads", secrets);
    for (let i = 0; i < n; i++) {
      expect(descriptorOk(i32, DESC, i)).toBe(!bad.includes(i));
      if (!bad.includes(i)) expect(toHex(u8.subarray(DATA + i * SLOT, DATA + i * SLOT + lengths[i]))).toBe(toHex(plain[i]));
    }
    // A batch of one quad, all four forged: their keystreams and tags are wiped as well.
    for (let i = 8; i < 12; i++) {
      u8.set(sealed[i], DATA + i * SLOT);
      u8[DATA + i * SLOT + lengths[i]] ^= 1;
    }
    expect(aead.openBatch(DESC + 8 * DESC_SIZE, 4)).toBe(0);
    clean("openBatch of a forged quad", secrets);
  });
});

describe("zeroize", () => {
  it("zeroes exactly [ptr, ptr + len)", () => {
    const { aead, u8 } = setup();
    u8.fill(0x77, DATA, DATA + 64);
    aead.raw.zeroize(DATA + 3, 50);
    expect([...u8.subarray(DATA, DATA + 64)]).toEqual([...Array(3).fill(0x77), ...Array(50).fill(0), ...Array(11).fill(0x77)]);
  });
});

describe("the convenience API leaves no secret in its private memory", () => {
  it("seal, open, a failed open, xseal, xopen: no key, keystream or plaintext after the call", () => {
    const r = rng(25);
    for (const len of [0, 33, 700, 1420, 5000]) {
      const key = r.bytes(32), nonce = r.bytes(24), aad = r.bytes(r.int(30)), pt = r.bytes(len);
      const s = secretsOf(key, nonce.subarray(0, 12), len, `len ${len}`);
      const x = xsecretsOf(key, nonce, len);
      const plainSecret = { name: "plaintext", bytes: pt };
      const check = (what: string, secrets: Secret[]): void => {
        const found = findSecrets(_privateHeapForTests()!, [...secrets, plainSecret]);
        if (found.length > 0) expect.fail(`${what}: found ${found.slice(0, 5).join(", ")}`);
      };
      const sealed = seal(key, nonce.subarray(0, 12), pt, aad);
      check(`seal ${len}`, s);
      expect(toHex(open(key, nonce.subarray(0, 12), sealed, aad)!)).toBe(toHex(pt));
      check(`open ${len}`, s);
      sealed[0] ^= 1;
      expect(open(key, nonce.subarray(0, 12), sealed, aad)).toBeNull();
      check(`failed open ${len}`, s);
      const xs = xseal(key, nonce, pt, aad);
      check(`xseal ${len}`, x);
      expect(toHex(xopen(key, nonce, xs, aad)!)).toBe(toHex(pt));
      check(`xopen ${len}`, x);
    }
  });
});
