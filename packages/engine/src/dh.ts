/**
 * X25519 (RFC 7748) for the handshake, from @noble/curves, behind a tiny wrapper that
 * refuses an all-zero shared secret (a low-order public key) and counts operations so
 * tests can prove that cheap checks (MAC1, cookies) run before any DH.
 * @module
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { HandshakeError } from "./errors.js";

/** Number of X25519 scalar multiplications performed so far (for tests and metrics). */
export const dhStats = { operations: 0 };

/** DH(private, public): the 32-byte shared secret; throws HandshakeError("bad-dh") if all zero. */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  dhStats.operations++;
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(privateKey, publicKey);
  } catch {
    throw new HandshakeError("bad-dh", "X25519 produced an invalid shared secret");
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i];
  if (acc === 0) throw new HandshakeError("bad-dh", "X25519 shared secret is zero");
  return shared;
}

/** A fresh random private key (clamped by X25519 at use, like `wg genkey` output). */
export function generatePrivateKey(): Uint8Array {
  const k = new Uint8Array(32);
  crypto.getRandomValues(k);
  // Clamp as `wg genkey` does, so keys printed from here look like WireGuard's.
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

/** The public key of a private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  dhStats.operations++;
  return x25519.getPublicKey(privateKey);
}
