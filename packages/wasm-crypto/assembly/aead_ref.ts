// ChaCha20-Poly1305 AEAD construction (RFC 8439 §2.8), scalar reference: one pass for the
// keystream, one for the MAC. The fast path (aead.ts) must agree with it byte for byte.

import { setupState, chachaBlock, chachaXor } from "./chacha20";
import { polyInit, polyPadded, polyFinish, tagEqual } from "./poly1305";
import { S_STATE, S_POLY, S_PAD, S_TAG, S_KS } from "./layout";

// Block 0 of the keystream is the Poly1305 one-time key (RFC 8439 §2.6).
function polyKey(scratch: usize): void {
  chachaBlock(scratch + S_STATE, 0, scratch + S_KS);
  polyInit(scratch + S_POLY, scratch + S_KS);
}

/** Seals `len` bytes at `data` in place; the tag goes to data+len. Nonce = words n0..n2. */
export function sealRef(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, len: u32, aad: usize, aadLen: u32,
): void {
  setupState(scratch + S_STATE, key, n0, n1, n2);
  polyKey(scratch);
  chachaXor(scratch + S_STATE, 1, data, len, scratch + S_KS);
  const st = scratch + S_POLY, pad = scratch + S_PAD;
  polyPadded(st, aad, aadLen, pad);
  polyPadded(st, data, len, pad);
  polyFinish(st, aadLen, len, pad, data + len);
}

/**
 * Opens `sealedLen` bytes (ciphertext then tag) at `data` in place. Returns 1 and leaves the
 * plaintext at `data` when the tag verifies; otherwise returns 0 and touches nothing.
 */
export function openRef(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, sealedLen: u32, aad: usize, aadLen: u32,
): u32 {
  if (sealedLen < 16) return 0;
  const len = sealedLen - 16;
  setupState(scratch + S_STATE, key, n0, n1, n2);
  polyKey(scratch);
  const st = scratch + S_POLY, pad = scratch + S_PAD;
  polyPadded(st, aad, aadLen, pad);
  polyPadded(st, data, len, pad);
  polyFinish(st, aadLen, len, pad, scratch + S_TAG);
  // Verify before a single byte of plaintext is written.
  if (!tagEqual(scratch + S_TAG, data + len)) return 0;
  chachaXor(scratch + S_STATE, 1, data, len, scratch + S_KS);
  return 1;
}
