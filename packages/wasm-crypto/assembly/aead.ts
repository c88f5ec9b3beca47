// ChaCha20-Poly1305 (RFC 8439 §2.8) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2),
// the entry points the batch loop and the exported functions use.

import { sealRef, openRef } from "./aead_ref";
import { hchacha20 } from "./chacha20";
import { S_SUBKEY, S_XNONCE, S_KS } from "./layout";

/** Seals in place (tag at data+len). */
@inline export function sealFast(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, len: u32, aad: usize, aadLen: u32,
): void {
  sealRef(scratch, key, n0, n1, n2, data, len, aad, aadLen);
}

/** Opens in place; 1 when authentic (plaintext at data), 0 otherwise (data untouched). */
@inline export function openFast(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, sealedLen: u32, aad: usize, aadLen: u32,
): u32 {
  return openRef(scratch, key, n0, n1, n2, data, sealedLen, aad, aadLen);
}

// XChaCha20: subkey = HChaCha20(key, nonce[0..16]); nonce' = 4 zero bytes || nonce[16..24].
function xsetup(scratch: usize, key: usize, nonce24: usize): void {
  hchacha20(key, nonce24, scratch + S_KS);
  memory.copy(scratch + S_SUBKEY, scratch + S_KS, 32);
  store<u32>(scratch + S_XNONCE, 0);
  store<u64>(scratch + S_XNONCE, load<u64>(nonce24, 16), 4);
}

export function xseal(scratch: usize, key: usize, nonce24: usize, data: usize, len: u32, aad: usize, aadLen: u32): void {
  xsetup(scratch, key, nonce24);
  const n = scratch + S_XNONCE;
  sealFast(scratch, scratch + S_SUBKEY, load<u32>(n, 0), load<u32>(n, 4), load<u32>(n, 8), data, len, aad, aadLen);
}

export function xopen(scratch: usize, key: usize, nonce24: usize, data: usize, sealedLen: u32, aad: usize, aadLen: u32): u32 {
  xsetup(scratch, key, nonce24);
  const n = scratch + S_XNONCE;
  return openFast(scratch, scratch + S_SUBKEY, load<u32>(n, 0), load<u32>(n, 4), load<u32>(n, 8), data, sealedLen, aad, aadLen);
}
