// Four WireGuard transport packets sealed or opened side by side (RFC 8439 §2.8, nonce =
// 4 zero bytes || 64-bit counter, empty AAD): packet i in lane i of ChaCha20 (chacha_x4.ts)
// and Poly1305 (poly1305_x4.ts) over the length the four have in common, then each packet's
// tail with the one-packet code. batch.ts decides which four descriptors go together (usable,
// similar lengths, no overlaps) and this file trusts that.
//
// Open verifies all four tags before it writes any plaintext. When one fails, only the
// authentic packets are decrypted, one at a time: a forged packet's bytes are never written.

import { chachaX4, setupX4 } from "./chacha_x4";
import { polyX4Load, polyX4Store, polyX4 } from "./poly1305_x4";
import { setupState } from "./chacha20";
import { chachaPolyKs } from "./chacha20_simd";
import { polyInit, polyPowers, polyPadded, polyFinish, tagEqual } from "./poly1305";
import { xorBytes } from "./aead";
import {
  S_STATE, S_POLY, S_POLYTAB, S_PAD, S_KS, X4_STATE, X4_KEYS, X4_LANES, X4_R, X4_H, X4_TAG, X4_TMP, X4_PT,
  DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI, DESC_DATA, DESC_LENGTH, DESC_STATUS,
} from "./layout";

// First nonce word of packet i: 0 (WireGuard), or from `n0s` (a test export's u32 array).
// @ts-ignore: decorator
@inline function nonce0(n0s: usize, i: u32): u32 {
  return n0s ? load<u32>(n0s + (<usize>i << 2)) : 0;
}

// Field `f` of descriptor i of the quad at `desc`.
// @ts-ignore: decorator
@inline function field(desc: usize, i: u32, f: u32): u32 {
  return load<u32>(desc + <usize>(i * DESC_SIZE + f));
}

/**
 * XORs `len` bytes at `data` with one packet's keystream from block `ctr` (one-packet SIMD
 * code, keystream through S_KS in chunks of 16 groups).
 */
export function xorLane(scratch: usize, desc: usize, n0s: usize, i: u32, data: usize, len: u32, ctr: u32): void {
  const st = scratch + S_STATE, ks = scratch + S_KS;
  setupState(st, field(desc, i, DESC_KEY), nonce0(n0s, i), field(desc, i, DESC_COUNTER_LO), field(desc, i, DESC_COUNTER_HI));
  while (len > 0) {
    const n = min<u32>(len, 4096);
    const groups = (n + 255) >>> 8;
    chachaPolyKs(st, scratch + S_POLY, scratch + S_POLYTAB, ctr, ks, groups, 0, 0);
    xorBytes(data, ks, n);
    data += n; len -= n; ctr += groups << 2;
  }
}

// Transposed states, keystream block 0 of each packet (the Poly1305 keys), lane states and
// their vector tables.
function start(scratch: usize, desc: usize, n0s: usize, pairs: bool): void {
  const st = scratch + X4_STATE, k = scratch + X4_KEYS;
  setupX4(st,
    field(desc, 0, DESC_KEY), field(desc, 1, DESC_KEY), field(desc, 2, DESC_KEY), field(desc, 3, DESC_KEY),
    nonce0(n0s, 0), nonce0(n0s, 1), nonce0(n0s, 2), nonce0(n0s, 3),
    field(desc, 0, DESC_COUNTER_LO), field(desc, 1, DESC_COUNTER_LO), field(desc, 2, DESC_COUNTER_LO), field(desc, 3, DESC_COUNTER_LO),
    field(desc, 0, DESC_COUNTER_HI), field(desc, 1, DESC_COUNTER_HI), field(desc, 2, DESC_COUNTER_HI), field(desc, 3, DESC_COUNTER_HI));
  memory.fill(k, 0, 256);
  chachaX4(st, 0, k, k + 64, k + 128, k + 192, 1);
  for (let i: usize = 0; i < 4; i++) {
    polyInit(scratch + X4_LANES + (i << 6), k + (i << 6));
    if (pairs) polyPowers(scratch + X4_LANES + (i << 6), scratch + X4_PT + i * 144);
  }
  if (!pairs) polyX4Load(scratch + X4_LANES, scratch + X4_R, scratch + X4_H);
}

// Poly1305 of `blocks` full blocks of the four packets' data, four-wide, then back into the
// lane states.
function macX4(scratch: usize, desc: usize, blocks: u32): void {
  polyX4(scratch + X4_R, scratch + X4_H, scratch + X4_TMP,
    field(desc, 0, DESC_DATA), field(desc, 1, DESC_DATA), field(desc, 2, DESC_DATA), field(desc, 3, DESC_DATA), blocks);
  polyX4Store(scratch + X4_LANES, scratch + X4_H);
}

// Keystream blocks 1..blocks of all four packets XORed in place.
function xorX4(scratch: usize, desc: usize, blocks: u32): void {
  chachaX4(scratch + X4_STATE, 1,
    field(desc, 0, DESC_DATA), field(desc, 1, DESC_DATA), field(desc, 2, DESC_DATA), field(desc, 3, DESC_DATA), blocks);
}

// @ts-ignore: decorator
@inline function minLen(desc: usize, sub: u32): u32 {
  return min<u32>(min<u32>(field(desc, 0, DESC_LENGTH), field(desc, 1, DESC_LENGTH)),
    min<u32>(field(desc, 2, DESC_LENGTH), field(desc, 3, DESC_LENGTH))) - sub;
}

// XORs each packet's bytes past the first `blocks` keystream blocks (data length minus
// `sub`): when every tail fits in one block, one more four-wide block through X4_KEYS (the
// Poly1305 keys are in the lane states by now), otherwise packet by packet.
function xorTails(scratch: usize, desc: usize, n0s: usize, blocks: u32, sub: u32): void {
  const done = blocks << 6;
  let most: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) most = max<u32>(most, field(desc, i, DESC_LENGTH) - sub - done);
  if (most == 0) return;
  if (most <= 64) {
    const k = scratch + X4_KEYS;
    memory.fill(k, 0, 256);
    chachaX4(scratch + X4_STATE, blocks + 1, k, k + 64, k + 128, k + 192, 1);
    for (let i: u32 = 0; i < 4; i++) {
      xorBytes(<usize>field(desc, i, DESC_DATA) + done, k + (<usize>i << 6), field(desc, i, DESC_LENGTH) - sub - done);
    }
    return;
  }
  for (let i: u32 = 0; i < 4; i++) {
    const len = field(desc, i, DESC_LENGTH) - sub;
    if (len > done) xorLane(scratch, desc, n0s, i, <usize>field(desc, i, DESC_DATA) + done, len - done, blocks + 1);
  }
}

/** Seals the four descriptors at `desc` (status 1 each). */
export function sealQuad(scratch: usize, desc: usize, n0s: usize): void {
  start(scratch, desc, n0s, true);
  const blocks = minLen(desc, 0) >>> 6;
  const macd = chachaX4(scratch + X4_STATE, 1,
    field(desc, 0, DESC_DATA), field(desc, 1, DESC_DATA), field(desc, 2, DESC_DATA), field(desc, 3, DESC_DATA), blocks,
    true, scratch + X4_LANES, scratch + X4_PT);
  xorTails(scratch, desc, n0s, blocks, 0);
  const pad = scratch + S_PAD;
  for (let i: u32 = 0; i < 4; i++) {
    const data = <usize>field(desc, i, DESC_DATA), len = field(desc, i, DESC_LENGTH);
    const lane = scratch + X4_LANES + (<usize>i << 6);
    polyPadded(lane, data + macd, len - macd, pad);
    polyFinish(lane, 0, len, pad, data + len);
    store<u32>(desc + <usize>(i * DESC_SIZE), 1, DESC_STATUS);
  }
}

/** Opens the four descriptors at `desc`; status 1 for each authentic one; returns how many. */
export function openQuad(scratch: usize, desc: usize, n0s: usize): u32 {
  start(scratch, desc, n0s, false);
  const nmin = minLen(desc, 16);
  const macd = nmin & ~15, pad = scratch + S_PAD;
  macX4(scratch, desc, nmin >>> 4);
  let okMask: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    const data = <usize>field(desc, i, DESC_DATA), len = field(desc, i, DESC_LENGTH) - 16;
    const lane = scratch + X4_LANES + (<usize>i << 6), tag = scratch + X4_TAG + (<usize>i << 4);
    polyPadded(lane, data + macd, len - macd, pad);
    polyFinish(lane, 0, len, pad, tag);
    okMask |= tagEqual(tag, data + len) << i;
  }
  if (okMask == 15) {
    xorX4(scratch, desc, nmin >>> 6);
    xorTails(scratch, desc, n0s, nmin >>> 6, 16);
  } else {
    for (let i: u32 = 0; i < 4; i++) {
      if (okMask & (1 << i)) xorLane(scratch, desc, n0s, i, field(desc, i, DESC_DATA), field(desc, i, DESC_LENGTH) - 16, 1);
    }
  }
  for (let i: u32 = 0; i < 4; i++) store<u32>(desc + <usize>(i * DESC_SIZE), (okMask >>> i) & 1, DESC_STATUS);
  return <u32>popcnt<u32>(okMask);
}
