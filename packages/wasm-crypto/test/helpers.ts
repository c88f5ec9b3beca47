// Shared helpers of the package's tests: hex, a seeded random source, vector files.
import { readFileSync } from "node:fs";

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Reads a JSON file of test/vectors/. */
export function vectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), "utf8")) as T;
}

/** A small deterministic generator (xorshift32), so failures reproduce. */
export function rng(seed: number): { bytes(n: number): Uint8Array; int(n: number): number } {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  return {
    bytes(n) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    int(n) {
      return next() % n;
    },
  };
}

/** Wycheproof AEAD file shape (testvectors_v1, aead_test_schema). */
export interface WycheproofAead {
  testGroups: {
    ivSize: number;
    keySize: number;
    tagSize: number;
    tests: { tcId: number; comment: string; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: string }[];
  }[];
}
