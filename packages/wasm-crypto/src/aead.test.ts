// Convenience API (seal/open/xseal/xopen) against RFC 8439, Wycheproof and node:crypto.
import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { seal, open, xseal, xopen } from "./index.js";
import { hex, toHex, rng, vectors, type WycheproofAead } from "../test/helpers.js";

interface Rfc {
  aead: { name: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }[];
}

describe("RFC 8439 vectors", () => {
  for (const v of vectors<Rfc>("rfc8439.json").aead) {
    it(`${v.name}: seal and open`, () => {
      const sealed = seal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.aad));
      expect(toHex(sealed)).toBe(v.ciphertext + v.tag);
      expect(toHex(open(hex(v.key), hex(v.nonce), sealed, hex(v.aad))!)).toBe(v.plaintext);
    });
  }
});

function wycheproof(file: string, nonceBytes: number, s: typeof seal, o: typeof open): void {
  const groups = vectors<WycheproofAead>(file).testGroups;
  for (const g of groups) {
    for (const t of g.tests) {
      it(`tcId ${t.tcId} (${t.result}, iv ${g.ivSize} bits) ${t.comment}`, () => {
        const key = hex(t.key), iv = hex(t.iv), aad = hex(t.aad), msg = hex(t.msg);
        const sealed = hex(t.ct + t.tag);
        if (iv.length !== nonceBytes) {
          expect(() => o(key, iv, sealed, aad)).toThrow(TypeError);
          expect(() => s(key, iv, msg, aad)).toThrow(/nonce/);
          expect(t.result).toBe("invalid");
          return;
        }
        if (t.result === "valid") {
          expect(toHex(s(key, iv, msg, aad))).toBe(t.ct + t.tag);
          expect(toHex(o(key, iv, sealed, aad)!)).toBe(t.msg);
        } else {
          expect(o(key, iv, sealed, aad)).toBeNull();
        }
      });
    }
  }
}

describe("Wycheproof ChaCha20-Poly1305", () => wycheproof("chacha20_poly1305_test.json", 12, seal, open));
describe("Wycheproof XChaCha20-Poly1305", () => wycheproof("xchacha20_poly1305_test.json", 24, xseal, xopen));

describe("differential against node:crypto", () => {
  it("agrees for every length from 0 to 2048 with random key, nonce and AAD", () => {
    const r = rng(0x5eed);
    for (let len = 0; len <= 2048; len++) {
      const key = r.bytes(32), nonce = r.bytes(12), aad = r.bytes(r.int(64)), pt = r.bytes(len);
      const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: len });
      const want = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      const sealed = seal(key, nonce, pt, aad);
      if (toHex(sealed) !== want.toString("hex")) expect.fail(`seal differs at length ${len}`);
      const back = open(key, nonce, sealed, aad);
      if (back === null || toHex(back) !== toHex(pt)) expect.fail(`open differs at length ${len}`);
    }
  });
});

describe("tampering", () => {
  it("rejects every single flipped bit of ciphertext, tag and AAD", () => {
    const r = rng(7);
    const key = r.bytes(32), nonce = r.bytes(12), aad = r.bytes(13), pt = r.bytes(37);
    const sealed = seal(key, nonce, pt, aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const bad = sealed.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      if (open(key, nonce, bad, aad) !== null) expect.fail(`sealed bit ${bit} flip accepted`);
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const bad = aad.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      if (open(key, nonce, sealed, bad) !== null) expect.fail(`aad bit ${bit} flip accepted`);
    }
    expect(toHex(open(key, nonce, sealed, aad)!)).toBe(toHex(pt));
  });

  it("rejects a wrong key, nonce, truncation and extension", () => {
    const r = rng(9);
    const key = r.bytes(32), nonce = r.bytes(24), pt = r.bytes(100);
    const sealed = xseal(key, nonce, pt);
    expect(toHex(xopen(key, nonce, sealed)!)).toBe(toHex(pt));
    expect(xopen(r.bytes(32), nonce, sealed)).toBeNull();
    expect(xopen(key, r.bytes(24), sealed)).toBeNull();
    expect(xopen(key, nonce, sealed.subarray(0, sealed.length - 1))).toBeNull();
    expect(xopen(key, nonce, new Uint8Array([...sealed, 0]))).toBeNull();
    expect(open(key, nonce.subarray(0, 12), new Uint8Array(15))).toBeNull();
  });
});

describe("bad arguments", () => {
  const k = new Uint8Array(32), n = new Uint8Array(12), x = new Uint8Array(24), p = new Uint8Array(4);
  it("throws TypeErrors naming the argument", () => {
    expect(() => seal(new Uint8Array(31), n, p)).toThrow(/^key must be 32 bytes/);
    expect(() => seal("k" as never, n, p)).toThrow(TypeError);
    expect(() => seal(k, new Uint8Array(24), p)).toThrow(/^nonce must be 12 bytes/);
    expect(() => seal(k, n, [1, 2] as never)).toThrow(/^plaintext must be a Uint8Array/);
    expect(() => seal(k, n, p, "aad" as never)).toThrow(/^aad must be a Uint8Array/);
    expect(() => open(k, n, new ArrayBuffer(20) as never)).toThrow(/^sealed must be a Uint8Array/);
    expect(() => xseal(k, n, p)).toThrow(/^nonce must be 24 bytes/);
    expect(() => xopen(k, x, null as never)).toThrow(/^sealed/);
    expect(() => open(k, n, p)).not.toThrow();
  });
  it("accepts Buffers and subarrays", () => {
    const buf = Buffer.alloc(64, 1);
    const sealed = seal(Buffer.alloc(32, 2), Buffer.alloc(12, 3), buf.subarray(5, 20));
    expect(open(Buffer.alloc(32, 2), Buffer.alloc(12, 3), sealed)).toEqual(new Uint8Array(15).fill(1));
  });
});
