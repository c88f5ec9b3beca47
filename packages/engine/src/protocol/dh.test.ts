import { readFileSync } from "node:fs";
import { x25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { dh, generatePrivateKey, publicKeyOf } from "./dh.js";
import { HandshakeError } from "./errors.js";

interface Vector {
  tcId: number;
  public: string;
  private: string;
  shared: string;
  result: string;
  flags: string[];
}
const vectors: Vector[] = JSON.parse(readFileSync(new URL("../../test/vectors/x25519_test.json", import.meta.url), "utf8")).testGroups.flatMap(
  (g: { tests: Vector[] }) => g.tests,
);
const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

describe("X25519 (OpenSSL through node:crypto)", () => {
  it("computes every Wycheproof shared secret, and refuses the all-zero ones", () => {
    let zero = 0;
    for (const v of vectors) {
      const expected = hex(v.shared);
      if (expected.every((b) => b === 0)) {
        zero++;
        expect(() => dh(hex(v.private), hex(v.public)), `tcId ${v.tcId}`).toThrow(HandshakeError);
      } else {
        expect(Buffer.from(dh(hex(v.private), hex(v.public))).toString("hex"), `tcId ${v.tcId} ${v.flags}`).toBe(v.shared);
      }
    }
    expect(zero).toBeGreaterThan(0);
  });

  it("agrees with @noble/curves, the readable reference, on random keys", () => {
    for (let i = 0; i < 200; i++) {
      const a = generatePrivateKey();
      const b = generatePrivateKey();
      const pubB = publicKeyOf(b);
      expect(pubB).toEqual(x25519.getPublicKey(b));
      expect(dh(a, pubB)).toEqual(x25519.getSharedSecret(a, pubB));
      expect(dh(a, pubB)).toEqual(dh(b, publicKeyOf(a)));
    }
  });

  it("generates keys clamped as wg genkey does", () => {
    const k = generatePrivateKey();
    expect(k[0] & 7).toBe(0);
    expect(k[31] & 0xc0).toBe(0x40);
  });
});
