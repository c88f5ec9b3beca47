// @taltun/wasm-crypto module entry: ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305
// in place on an imported shared memory. Every pointer is an address in that memory.
//
// The instance's scratch address is a WebAssembly global, and globals belong to one
// instance: several instances over one shared memory (one per worker) never share scratch.
// The module has no data segment and allocates nothing.
//
// Every entry point wipes the secrets it left in the scratch before it returns (wipe.ts); the
// batch entry points do it once per batch. The batch entry points take four packets of
// similar length side by side where they can (batch.ts, quad.ts).

import * as aead from "./aead";
import * as ref from "./aead_ref";
import * as batch from "./batch";
import { hchacha20 as hchacha } from "./chacha20";
import { S_KS } from "./layout";
import { wipe, openKsBytes, SEAL_KS_BYTES, BLOCK_KS_BYTES } from "./wipe";

let scratch: usize = 0;

/** Sets this instance's scratch region (SCRATCH_BYTES at `ptr`). */
export function init(ptr: usize): void {
  scratch = ptr;
}

/** Seals `len` bytes at `data` in place, tag at data+len; 12-byte nonce at `nonce`. */
export function seal(key: usize, nonce: usize, data: usize, len: u32, aad: usize, aadLen: u32): void {
  aead.sealFast(scratch, key, load<u32>(nonce, 0), load<u32>(nonce, 4), load<u32>(nonce, 8), data, len, aad, aadLen);
  wipe(scratch, SEAL_KS_BYTES);
}

/** Opens `sealedLen` bytes at `data` in place: 1 = authentic, 0 = rejected (data untouched). */
export function open(key: usize, nonce: usize, data: usize, sealedLen: u32, aad: usize, aadLen: u32): u32 {
  const ok = aead.openFast(scratch, key, load<u32>(nonce, 0), load<u32>(nonce, 4), load<u32>(nonce, 8), data, sealedLen, aad, aadLen);
  wipe(scratch, openKsBytes(sealedLen));
  return ok;
}

/** XChaCha20-Poly1305 seal, 24-byte nonce at `nonce`. */
export function xseal(key: usize, nonce: usize, data: usize, len: u32, aad: usize, aadLen: u32): void {
  aead.xseal(scratch, key, nonce, data, len, aad, aadLen);
  wipe(scratch, SEAL_KS_BYTES);
}

/** XChaCha20-Poly1305 open, 24-byte nonce at `nonce`. */
export function xopen(key: usize, nonce: usize, data: usize, sealedLen: u32, aad: usize, aadLen: u32): u32 {
  const ok = aead.xopen(scratch, key, nonce, data, sealedLen, aad, aadLen);
  wipe(scratch, openKsBytes(sealedLen));
  return ok;
}

/** Scalar reference seal (tests hold the fast path equal to it). */
export function sealRef(key: usize, nonce: usize, data: usize, len: u32, aad: usize, aadLen: u32): void {
  ref.sealRef(scratch, key, load<u32>(nonce, 0), load<u32>(nonce, 4), load<u32>(nonce, 8), data, len, aad, aadLen);
  wipe(scratch, BLOCK_KS_BYTES);
}

/** Scalar reference open. */
export function openRef(key: usize, nonce: usize, data: usize, sealedLen: u32, aad: usize, aadLen: u32): u32 {
  const ok = ref.openRef(scratch, key, load<u32>(nonce, 0), load<u32>(nonce, 4), load<u32>(nonce, 8), data, sealedLen, aad, aadLen);
  wipe(scratch, BLOCK_KS_BYTES);
  return ok;
}

/** HChaCha20 subkey of `key` and 16 bytes at `nonce16`, written to `out` (32 bytes). */
export function hchacha20(key: usize, nonce16: usize, out: usize): void {
  hchacha(key, nonce16, scratch + S_KS);
  memory.copy(out, scratch + S_KS, 32);
  wipe(scratch, BLOCK_KS_BYTES);
}

/** Zeroes `len` bytes at `ptr` (for callers' own copies of keys and plaintext; a wasm memory.fill is far cheaper than TypedArray fill on a shared buffer). */
export function zeroize(ptr: usize, len: u32): void {
  memory.fill(ptr, 0, len);
}

/** Seals `count` descriptors at `desc` (see layout.ts / the README). */
export function sealBatch(desc: usize, count: u32): void {
  batch.sealBatch(scratch, desc, count, 0);
}

/** Opens `count` descriptors at `desc`; returns how many authenticated. */
export function openBatch(desc: usize, count: u32): u32 {
  return batch.openBatch(scratch, desc, count, 0);
}

/**
 * Test export: sealBatch with packet i's first nonce word from `n0s` (u32 array) instead of 0,
 * so that published vectors (any 12-byte nonce, empty AAD) can go through the batch path.
 */
export function sealBatchNonce(desc: usize, count: u32, n0s: usize): void {
  batch.sealBatch(scratch, desc, count, n0s);
}

/** Test export: openBatch with first nonce words from `n0s`, as sealBatchNonce. */
export function openBatchNonce(desc: usize, count: u32, n0s: usize): u32 {
  return batch.openBatch(scratch, desc, count, n0s);
}
