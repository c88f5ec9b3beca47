/**
 * X25519 (RFC 7748) for the handshake, from OpenSSL through node:crypto, behind a tiny
 * wrapper that refuses an all-zero shared secret (a low-order public key) and counts
 * operations so tests can prove that cheap checks (MAC1, cookies) run before any DH.
 *
 * Why not @noble/curves, the first choice: measured here, noble's scalar
 * multiplication costs 2.5-3.5 ms and OpenSSL's 50-80 us, and a responder does four per
 * handshake, so noble held a hub to ~270 handshakes/s. dh.test.ts holds the two equal on
 * Wycheproof's vectors and on random keys.
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { HandshakeError } from "./errors.js";

/** Number of X25519 scalar multiplications performed so far (for tests and metrics). */
export const dhStats = { operations: 0 };

// DER framings of raw X25519 keys (RFC 8410): node:crypto takes keys as KeyObjects only.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

// Parsing a key into OpenSSL costs more than the multiplication itself, and the same key
// arrays come back (our static key at every handshake, an ephemeral key twice and for its
// public key): keep each one's KeyObject while its array lives. Arrays are never changed
// in place except when zeroed, after their last use.
const privateObjects = new WeakMap<Uint8Array, KeyObject>();
const publicObjects = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(key: Uint8Array): KeyObject {
  let o = privateObjects.get(key);
  if (!o) {
    o = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, key]), format: "der", type: "pkcs8" });
    privateObjects.set(key, o);
  }
  return o;
}

function publicKeyObject(key: Uint8Array): KeyObject {
  let o = publicObjects.get(key);
  if (!o) {
    o = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: "der", type: "spki" });
    publicObjects.set(key, o);
  }
  return o;
}

/** DH(private, public): the 32-byte shared secret; throws HandshakeError("bad-dh") if all zero. */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  dhStats.operations++;
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) }));
  } catch {
    // OpenSSL refuses to derive an all-zero secret (a low-order point) outright.
    throw new HandshakeError("bad-dh", "X25519 produced an invalid shared secret");
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i];
  if (acc === 0) throw new HandshakeError("bad-dh", "X25519 shared secret is zero");
  return shared;
}

/**
 * Zeroes keys that are no longer needed, and forgets the OpenSSL copies made of them, so
 * that nothing outside the garbage collector's reach still holds the secret.
 */
export function zeroKeys(...keys: Uint8Array[]): void {
  for (const k of keys) {
    privateObjects.delete(k);
    publicObjects.delete(k);
    k.fill(0);
  }
}

/** A fresh random private key, clamped as `wg genkey` prints it. */
export function generatePrivateKey(): Uint8Array {
  const k = new Uint8Array(32);
  crypto.getRandomValues(k);
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

/** The public key of a private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== 32) throw new TypeError("an X25519 private key is 32 bytes");
  dhStats.operations++;
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}
