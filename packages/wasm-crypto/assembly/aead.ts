// ChaCha20-Poly1305 (RFC 8439 §2.8) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2),
// fast path: SIMD keystream four blocks at a time with the MAC in the same loop
// (chacha20_simd.ts). aead_ref.ts is the readable version; tests hold the two equal.
//
// Keystream group 0 (blocks 0..3) yields the Poly1305 key (block 0) and the keystream of the
// first 192 data bytes (blocks 1..3), so a 1420-byte packet needs exactly six groups.
// Open never writes plaintext before the tag verifies: up to KS_MAX_DATA bytes it keeps the
// keystream in scratch while MACing the ciphertext, verifies, then XORs; longer messages
// take a MAC pass, then a keystream pass.

import { setupState, hchacha20 } from "./chacha20";
import { chachaPolyXor, chachaPolyKs } from "./chacha20_simd";
import { polyInit, polyPowers, polyPadded, polyFinish, tagEqual } from "./poly1305";
import { S_STATE, S_POLY, S_POLYTAB, S_PAD, S_TAG, S_KS, S_SUBKEY, S_XNONCE, KS_MAX_DATA } from "./layout";

/** dst[0..n) ^= ks[0..n) */
// @ts-ignore: decorator
@inline export function xorBytes(dst: usize, ks: usize, n: u32): void {
  let i: usize = 0;
  const end = <usize>n;
  for (; i + 16 <= end; i += 16) v128.store(dst + i, v128.xor(v128.load(dst + i), v128.load(ks + i)));
  for (; i < end; i++) store<u8>(dst + i, load<u8>(dst + i) ^ load<u8>(ks + i));
}

// State setup, keystream group 0 into S_KS, Poly1305 key, AAD into the MAC; the SIMD loop's
// coefficients only when a message goes past group 0 (`long`).
function start(scratch: usize, key: usize, n0: u32, n1: u32, n2: u32, aad: usize, aadLen: u32, long: bool): void {
  const st = scratch + S_STATE, ps = scratch + S_POLY, ks = scratch + S_KS;
  setupState(st, key, n0, n1, n2);
  chachaPolyKs(st, ps, scratch + S_POLYTAB, 0, ks, 1, 0, 0);
  polyInit(ps, ks);
  if (long) polyPowers(ps, scratch + S_POLYTAB);
  polyPadded(ps, aad, aadLen, scratch + S_PAD);
}

// XORs data[192..len) with keystream from block 4 on; MACs ciphertext from `pp` as it goes
// into the Poly1305 state at `ps` (coefficients `pt`; in place, the MAC only reads what is
// already ciphertext) when mac is true. Returns where the MAC stopped.
export function xorTail(scratch: usize, ps: usize, pt: usize, data: usize, len: u32, pp: usize, mac: bool): usize {
  const st = scratch + S_STATE, ks = scratch + S_KS;
  const pend = mac ? data + (len & ~15) : 0;
  const groups = (len - 192) >>> 8;
  pp = chachaPolyXor(st, ps, pt, 4, data + 192, groups, pp, pend);
  const done: u32 = 192 + (groups << 8);
  if (done < len) {
    pp = chachaPolyKs(st, ps, pt, 4 + (groups << 2), ks, 1, pp, min<usize>(pend, data + done));
    xorBytes(data + done, ks, len - done);
  }
  return pp;
}

/** Seals `len` bytes at `data` in place; the tag goes to data+len. */
export function sealFast(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, len: u32, aad: usize, aadLen: u32,
): void {
  start(scratch, key, n0, n1, n2, aad, aadLen, len > 192);
  const ps = scratch + S_POLY, pad = scratch + S_PAD;
  xorBytes(data, scratch + S_KS + 64, min<u32>(len, 192));
  let pp = data;
  if (len > 192) pp = xorTail(scratch, ps, scratch + S_POLYTAB, data, len, pp, true);
  polyPadded(ps, pp, <u32>(data + len - pp), pad);
  polyFinish(ps, aadLen, len, pad, data + len);
}

/** Opens in place; 1 when authentic (plaintext at data), 0 otherwise (data untouched). */
export function openFast(
  scratch: usize, key: usize, n0: u32, n1: u32, n2: u32,
  data: usize, sealedLen: u32, aad: usize, aadLen: u32,
): u32 {
  if (sealedLen < 16) return 0;
  const len = sealedLen - 16;
  start(scratch, key, n0, n1, n2, aad, aadLen, len > 192 && len <= KS_MAX_DATA);
  const st = scratch + S_STATE, ps = scratch + S_POLY, pad = scratch + S_PAD, ks = scratch + S_KS;
  if (len <= KS_MAX_DATA) {
    // Pass 1: keystream of the whole packet into scratch (after group 0), MAC alongside.
    let pp = data;
    if (len > 192) pp = chachaPolyKs(st, ps, scratch + S_POLYTAB, 4, ks + 256, (len - 192 + 255) >>> 8, pp, data + (len & ~15));
    polyPadded(ps, pp, <u32>(data + len - pp), pad);
    polyFinish(ps, aadLen, len, pad, scratch + S_TAG);
    if (!tagEqual(scratch + S_TAG, data + len)) return 0;
    // Pass 2, only when authentic: plaintext = ciphertext ^ keystream.
    xorBytes(data, ks + 64, len);
    return 1;
  }
  polyPadded(ps, data, len, pad);
  polyFinish(ps, aadLen, len, pad, scratch + S_TAG);
  if (!tagEqual(scratch + S_TAG, data + len)) return 0;
  xorBytes(data, ks + 64, 192);
  xorTail(scratch, ps, scratch + S_POLYTAB, data, len, 0, false);
  return 1;
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
