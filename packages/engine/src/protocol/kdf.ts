/**
 * The hash-based primitives of WireGuard (whitepaper §5.4): HASH (BLAKE2s-256), MAC
 * (keyed BLAKE2s-128), HMAC (HMAC-BLAKE2s, RFC 2104) and KDF1..3 (HKDF, RFC 5869, with
 * HMAC-BLAKE2s, empty salt handled as WireGuard does: the chaining key is the HMAC key).
 * @module
 */
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { blake2sMac } from "./blake2s-mac.js";
import { MAC_SIZE } from "./constants.js";

/** HASH(input...) = BLAKE2s-256 over the concatenation of the inputs. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** MAC(key, input) = keyed BLAKE2s with a 16-byte output (the fast one: a handshake flood pays for three per message). */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2sMac(key, input, MAC_SIZE);
}

/** HMAC(key, input) with BLAKE2s-256. */
export function hmacBlake2s(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = hmac.create(blake2s, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/**
 * KDF_n(key, input) -> n 32-byte outputs. The intermediate pseudo-random key is zeroed
 * before returning, because it would let anyone re-derive every output.
 */
function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = hmacBlake2s(key, input);
  const t1 = hmacBlake2s(prk, ONE);
  const out = [t1];
  if (n >= 2) out.push(hmacBlake2s(prk, t1, TWO));
  if (n === 3) out.push(hmacBlake2s(prk, out[1], THREE));
  prk.fill(0);
  return out;
}

/** KDF1(key, input) -> τ1. */
export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return kdf(1, key, input)[0];
}

/** KDF2(key, input) -> [τ1, τ2]. */
export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const [a, b] = kdf(2, key, input);
  return [a, b];
}

/** KDF3(key, input) -> [τ1, τ2, τ3]. */
export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const [a, b, c] = kdf(3, key, input);
  return [a, b, c];
}

/** The empty input ε of KDF (the final split of the chaining key). */
export const EMPTY = new Uint8Array(0);
