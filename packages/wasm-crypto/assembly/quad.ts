// Four WireGuard transport packets sealed or opened side by side (RFC 8439 §2.8, nonce =
// 4 zero bytes || 64-bit counter, empty AAD): packet i in lane i of ChaCha20 (chacha_x4.ts)
// over the blocks the four have in common, their Poly1305 pairs on the integer units inside
// the same loop, then the tails. batch.ts decides which four descriptors go together
// (usable, similar lengths, no overlaps) and this file trusts that.
//
// Open verifies all four tags before it writes any plaintext: while it decrypts one verified
// quad, it MACs the next one (openQuadVerify), and the last is decrypted alone
// (openQuadEnd). When a tag fails, only the authentic packets of that quad are decrypted, one
// at a time: a forged packet's bytes are never written.

import { chachaX4, setupX4 } from "./chacha_x4";
import { polyX4Load, polyX4Store, polyX4 } from "./poly1305_x4";
import { setupState } from "./chacha20";
import { chachaPolyKs } from "./chacha20_simd";
import { polyInit, polyPowers, polyPadded, polyFinish, tagEqual } from "./poly1305";
import { xorBytes } from "./aead";
import {
  S_STATE, S_POLY, S_POLYTAB, S_PAD, S_KS, X4_KEYS, X4_LANES, X4_R, X4_H, X4_TAG, X4_TMP, X4_PT,
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

// @ts-ignore: decorator
@inline function dataOf(desc: usize, i: u32): usize {
  return <usize>field(desc, i, DESC_DATA);
}

// Shortest data length of the quad (descriptor length minus `sub`).
// @ts-ignore: decorator
@inline function minLen(desc: usize, sub: u32): u32 {
  return min<u32>(min<u32>(field(desc, 0, DESC_LENGTH), field(desc, 1, DESC_LENGTH)),
    min<u32>(field(desc, 2, DESC_LENGTH), field(desc, 3, DESC_LENGTH))) - sub;
}

/**
 * XORs `len` bytes at `data` with packet i's keystream from block `ctr` (one-packet SIMD
 * code, keystream through S_KS in chunks of 16 groups).
 */
function xorLane(scratch: usize, desc: usize, n0s: usize, i: u32, data: usize, len: u32, ctr: u32): void {
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

// Transposed states at `st`, keystream block 0 of each packet (the Poly1305 keys), the lane
// states and their pair tables.
function start(scratch: usize, desc: usize, n0s: usize, st: usize): void {
  const k = scratch + X4_KEYS;
  setupX4(st,
    field(desc, 0, DESC_KEY), field(desc, 1, DESC_KEY), field(desc, 2, DESC_KEY), field(desc, 3, DESC_KEY),
    nonce0(n0s, 0), nonce0(n0s, 1), nonce0(n0s, 2), nonce0(n0s, 3),
    field(desc, 0, DESC_COUNTER_LO), field(desc, 1, DESC_COUNTER_LO), field(desc, 2, DESC_COUNTER_LO), field(desc, 3, DESC_COUNTER_LO),
    field(desc, 0, DESC_COUNTER_HI), field(desc, 1, DESC_COUNTER_HI), field(desc, 2, DESC_COUNTER_HI), field(desc, 3, DESC_COUNTER_HI));
  memory.fill(k, 0, 256);
  chachaX4(st, 0, k, k + 64, k + 128, k + 192, 1);
  for (let i: usize = 0; i < 4; i++) {
    polyInit(scratch + X4_LANES + (i << 6), k + (i << 6));
    polyPowers(scratch + X4_LANES + (i << 6), scratch + X4_PT + i * 144);
  }
}

// XORs each packet's bytes past the first `blocks` keystream blocks (data length = descriptor
// length minus `sub`): when every tail fits in one block, one more four-wide block through
// X4_KEYS (the Poly1305 keys are in the lane states by now), otherwise packet by packet.
function xorTails(scratch: usize, st: usize, desc: usize, n0s: usize, blocks: u32, sub: u32): void {
  const done = blocks << 6;
  let most: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) most = max<u32>(most, field(desc, i, DESC_LENGTH) - sub - done);
  if (most == 0) return;
  if (most <= 64) {
    const k = scratch + X4_KEYS;
    memory.fill(k, 0, 256);
    chachaX4(st, blocks + 1, k, k + 64, k + 128, k + 192, 1);
    for (let i: u32 = 0; i < 4; i++) xorBytes(dataOf(desc, i) + done, k + (<usize>i << 6), field(desc, i, DESC_LENGTH) - sub - done);
    return;
  }
  for (let i: u32 = 0; i < 4; i++) {
    const len = field(desc, i, DESC_LENGTH) - sub;
    if (len > done) xorLane(scratch, desc, n0s, i, dataOf(desc, i) + done, len - done, blocks + 1);
  }
}

// Finishes the four MACs from byte `from` of each packet's data (length = descriptor length
// minus `sub`): four-wide vector steps over a long common stretch (a quad MACed with nothing
// to overlap), scalar for the rest. Seal writes the tags after the data; open compares and
// returns the mask of authentic packets.
function macFinish(scratch: usize, desc: usize, from: u32, sub: u32, seal: bool): u32 {
  const full = (minLen(desc, sub) - from) >>> 4;
  if (full >= 8) {
    polyX4Load(scratch + X4_LANES, scratch + X4_R, scratch + X4_H);
    polyX4(scratch + X4_R, scratch + X4_H, scratch + X4_TMP,
      dataOf(desc, 0) + from, dataOf(desc, 1) + from, dataOf(desc, 2) + from, dataOf(desc, 3) + from, full);
    polyX4Store(scratch + X4_LANES, scratch + X4_H);
    from += full << 4;
  }
  const pad = scratch + S_PAD;
  let okMask: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    const data = dataOf(desc, i), len = field(desc, i, DESC_LENGTH) - sub;
    const lane = scratch + X4_LANES + (<usize>i << 6), tag = scratch + X4_TAG + (<usize>i << 4);
    polyPadded(lane, data + from, len - from, pad);
    polyFinish(lane, 0, len, pad, seal ? data + len : tag);
    if (!seal) okMask |= tagEqual(tag, data + len) << i;
  }
  return okMask;
}

// @ts-ignore: decorator
@inline function setStatus(desc: usize, okMask: u32): void {
  for (let i: u32 = 0; i < 4; i++) store<u32>(desc + <usize>(i * DESC_SIZE), (okMask >>> i) & 1, DESC_STATUS);
}

/** Seals the four descriptors at `desc` (status 1 each), with the transposed states at `st`. */
export function sealQuad(scratch: usize, desc: usize, n0s: usize, st: usize): void {
  start(scratch, desc, n0s, st);
  const blocks = minLen(desc, 0) >>> 6, d0 = dataOf(desc, 0), d1 = dataOf(desc, 1), d2 = dataOf(desc, 2), d3 = dataOf(desc, 3);
  const macBlocks = blocks > 0 ? blocks - 1 : 0;
  chachaX4(st, 1, d0, d1, d2, d3, blocks, scratch + X4_LANES, scratch + X4_PT, d0, d1, d2, d3, macBlocks, true);
  xorTails(scratch, st, desc, n0s, blocks, 0);
  macFinish(scratch, desc, macBlocks << 6, 0, true);
  setStatus(desc, 15);
}

// Decrypts the authentic packets of a verified quad (plaintext never written for the others)
// and sets its statuses; the common blocks of an all-authentic quad four-wide, with the next
// quad's MAC (`next`, its first `macBlocks` blocks) in the same loop.
function decrypt(scratch: usize, desc: usize, n0s: usize, st: usize, okMask: u32, next: usize, macBlocks: u32): void {
  if (okMask == 15) {
    const blocks = minLen(desc, 16) >>> 6;
    if (next) {
      chachaX4(st, 1, dataOf(desc, 0), dataOf(desc, 1), dataOf(desc, 2), dataOf(desc, 3), blocks, scratch + X4_LANES, scratch + X4_PT,
        dataOf(next, 0), dataOf(next, 1), dataOf(next, 2), dataOf(next, 3), macBlocks, false);
    } else {
      chachaX4(st, 1, dataOf(desc, 0), dataOf(desc, 1), dataOf(desc, 2), dataOf(desc, 3), blocks);
    }
    xorTails(scratch, st, desc, n0s, blocks, 16);
  } else {
    for (let i: u32 = 0; i < 4; i++) {
      if (okMask & (1 << i)) xorLane(scratch, desc, n0s, i, dataOf(desc, i), field(desc, i, DESC_LENGTH) - 16, 1);
    }
  }
  setStatus(desc, okMask);
}

/**
 * Opens the quad at `desc` (transposed states at `st`) as far as its verdict and returns the
 * mask of authentic packets; nothing of it is written yet. Meanwhile decrypts `prev` (0 when
 * none), the quad verified before, whose states are at `prevSt` and verdict `prevOk`.
 */
export function openQuadVerify(scratch: usize, desc: usize, n0s: usize, st: usize, prev: usize, prevN0s: usize, prevSt: usize, prevOk: u32): u32 {
  start(scratch, desc, n0s, st);
  let from: u32 = 0;
  if (prev) {
    // The pair steps run during the previous quad's common blocks only.
    const macBlocks = prevOk == 15 ? min<u32>(minLen(prev, 16) >>> 6, minLen(desc, 16) >>> 6) : 0;
    decrypt(scratch, prev, prevN0s, prevSt, prevOk, desc, macBlocks);
    from = macBlocks << 6;
  }
  return macFinish(scratch, desc, from, 16, false);
}

/** Decrypts a verified quad with nothing to MAC beside it (the last of a run) and sets its statuses. */
export function openQuadEnd(scratch: usize, desc: usize, n0s: usize, st: usize, okMask: u32): void {
  decrypt(scratch, desc, n0s, st, okMask, 0, 0);
}
