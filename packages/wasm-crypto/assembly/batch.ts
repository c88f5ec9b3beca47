// Batch entry points: one call seals or opens a whole array of WireGuard transport
// descriptors (layout.ts, DESC_*). The nonce is WireGuard's: 4 zero bytes, then the 64-bit
// counter little-endian (whitepaper §5.4.6), and the AAD is empty.
//
// Every descriptor is checked against the memory's size and the instance's scratch before
// use: a hostile one gets status 0 instead of a trap halfway through the batch or a write
// over this instance's scratch. The checks cost a few compares per packet.
//
// Four consecutive descriptors of similar length go through quad.ts side by side; the rest,
// one at a time. A quad must give exactly what four one-at-a-time calls give, so its packets
// must not overlap each other, the keys or the descriptors (a quad reads every key and
// descriptor before it writes any packet). openBatch decrypts a quad while it MACs the next,
// so two quads in a row must keep apart in the same way, or the first is finished before the
// second starts.
//
// The scratch is wiped once per batch, after the last packet (wipe.ts): as far as the largest
// keystream a packet of the batch wrote, or the end of the four-packet area once a quad ran.

import { openFast } from "./aead";
import { sealQuad, openQuadVerify, openQuadEnd } from "./quad";
import {
  HEAP_BASE, SCRATCH_BYTES, DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI,
  DESC_DATA, DESC_LENGTH, DESC_STATUS, X4_KS_BYTES, X4_STATE, X4_STATE2,
} from "./layout";
import { wipe, openKsBytes, SEAL_CHAIN_KS_BYTES } from "./wipe";
import { sealBegin, sealEnd } from "./seal_chain";

/** Shortest data length (plaintext bytes) worth a quad: one full keystream block each. */
const QUAD_MIN: u32 = 64;
/** Largest spread of data lengths in a quad: each packet's tail past the common blocks stays short. */
const QUAD_SPREAD: u32 = 256;
/** Longest data length opened four-wide when one at a time would compute as many blocks: below it, per-packet costs decide. */
const QUAD_OPEN_SHORT: u32 = 256;

// True when [ptr, ptr+len) lies inside usable memory and outside [scratch, scratch+SCRATCH_BYTES).
@inline function usable(ptr: u32, len: u32, memEnd: u64, scratch: u32): bool {
  const end = <u64>ptr + <u64>len;
  const inMemory = ptr >= HEAP_BASE && end <= memEnd;
  const clearOfScratch = end <= <u64>scratch || <u64>ptr >= <u64>scratch + SCRATCH_BYTES;
  return inMemory && clearOfScratch;
}

// @ts-ignore: decorator
@inline function apart(a: u32, alen: u32, b: u32, blen: u32): bool {
  return <u64>a + <u64>alen <= <u64>b || <u64>b + <u64>blen <= <u64>a;
}

// Data bytes descriptor `d` covers (seal: with the tag it will get), or 0 when unusable.
// @ts-ignore: decorator
@inline function extent(d: usize, memEnd: u64, s: u32, open: bool): u32 {
  const key = load<u32>(d, DESC_KEY), data = load<u32>(d, DESC_DATA), len = load<u32>(d, DESC_LENGTH);
  if (open) return len >= 16 && usable(key, 32, memEnd, s) && usable(data, len, memEnd, s) ? len : 0;
  return len <= 0xffffffef && usable(key, 32, memEnd, s) && usable(data, len + 16, memEnd, s) ? len + 16 : 0;
}

// Keystream blocks a packet of `len` data bytes needs (the Poly1305 key block and its data),
// and (`whole`) what one packet at a time computes for it: whole groups of four.
// @ts-ignore: decorator
@inline function blocksOf(len: u32, whole: bool): u32 {
  const b = 1 + ((len + 63) >>> 6);
  return whole ? (b + 3) & ~3 : b;
}

// True when descriptors desc..desc+3 may go through quad.ts: all usable, data lengths within
// [QUAD_MIN, min + QUAD_SPREAD), no packet overlapping another, a key or the descriptors, and
// the quad faster than one at a time. A quad computes the blocks its packets need; one at a
// time they would take whole groups of four, each block about 0.8 of a quad's per packet
// (2026-11-30, one core: one at a time 1.05x at 1024 B, even at 768 B, 0.92x at 512 B, 0.8x
// at 256 B). So a quad goes when one at a time would compute over a quarter more blocks, and,
// for open, below QUAD_OPEN_SHORT (where one packet's MAC has little keystream to hide behind).
function quadFits(desc: usize, memEnd: u64, s: u32, open: bool): bool {
  let lo: u32 = 0xffffffff, hi: u32 = 0, need: u32 = 0, whole: u32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const e = extent(desc + i * DESC_SIZE, memEnd, s, open);
    if (e == 0) return false;
    lo = min<u32>(lo, e); hi = max<u32>(hi, e);
    need += blocksOf(e - 16, false); whole += blocksOf(e - 16, true);
  }
  if (lo < QUAD_MIN + 16 || hi - lo >= QUAD_SPREAD) return false;
  if (4 * whole <= 5 * need && !(open && hi <= QUAD_OPEN_SHORT + 16)) return false;
  for (let i: usize = 0; i < 4; i++) {
    const di = desc + i * DESC_SIZE;
    const data = load<u32>(di, DESC_DATA), len = load<u32>(di, DESC_LENGTH) + (open ? 0 : 16);
    if (!apart(data, len, <u32>desc, 4 * DESC_SIZE)) return false;
    for (let j: usize = 0; j < 4; j++) {
      const dj = desc + j * DESC_SIZE;
      if (!apart(data, len, load<u32>(dj, DESC_KEY), 32)) return false;
      if (j > i && !apart(data, len, load<u32>(dj, DESC_DATA), load<u32>(dj, DESC_LENGTH) + (open ? 0 : 16))) return false;
    }
  }
  return true;
}

// True when no packet of quad `a` overlaps a packet, key or descriptor of quad `b` or the
// other way round (open: lengths include the tag).
function quadsApart(a: usize, b: usize): bool {
  for (let i: usize = 0; i < 4; i++) {
    const da = a + i * DESC_SIZE, db = b + i * DESC_SIZE;
    const pa = load<u32>(da, DESC_DATA), la = load<u32>(da, DESC_LENGTH);
    const pb = load<u32>(db, DESC_DATA), lb = load<u32>(db, DESC_LENGTH);
    if (!apart(pa, la, <u32>b, 4 * DESC_SIZE) || !apart(pb, lb, <u32>a, 4 * DESC_SIZE)) return false;
    for (let j: usize = 0; j < 4; j++) {
      const ea = a + j * DESC_SIZE, eb = b + j * DESC_SIZE;
      if (!apart(pa, la, load<u32>(eb, DESC_KEY), 32) || !apart(pb, lb, load<u32>(ea, DESC_KEY), 32)) return false;
      if (!apart(pa, la, load<u32>(eb, DESC_DATA), load<u32>(eb, DESC_LENGTH))) return false;
    }
  }
  return true;
}

/**
 * Seals `count` descriptors. `n0s`: 0 for WireGuard's nonce, or (test export only) an array
 * of u32, the first nonce word of each packet, so that vectors with any nonce can go through.
 */
export function sealBatch(scratch: usize, desc: usize, count: u32, n0s: usize): void {
  const memEnd = <u64>memory.size() << 16;
  const s = <u32>scratch;
  let ks = SEAL_CHAIN_KS_BYTES;
  // The packet sealed last whose MAC rest waits for the next one (seal_chain.ts), 0: none.
  let prev: u32 = 0, prevLen: u32 = 0, prevPp: usize = 0, area: u32 = 0;
  let i: u32 = 0;
  while (i < count) {
    // The waiting packet is finished first when what comes next is read from or written to
    // its bytes (one at a time, it would have been finished by then): here the descriptors
    // read next (up to a quad's four, status fields included); below, this packet's key.
    const ahead = <u32>min<u32>(count - i, 4) * DESC_SIZE;
    if (prev && !apart(prev, prevLen + 16, <u32>desc, ahead)) { sealEnd(scratch, area ^ 1, prev, prevLen, prevPp); prev = 0; }
    if (count - i >= 4 && quadFits(desc, memEnd, s, false)) {
      // A quad may write over the waiting packet's tag, and uses the scratch as it likes.
      if (prev) { sealEnd(scratch, area ^ 1, prev, prevLen, prevPp); prev = 0; }
      sealQuad(scratch, desc, n0s ? n0s + (<usize>i << 2) : 0, scratch + X4_STATE);
      ks = X4_KS_BYTES;
      i += 4; desc += 4 * DESC_SIZE;
      continue;
    }
    const key = load<u32>(desc, DESC_KEY), data = load<u32>(desc, DESC_DATA), len = load<u32>(desc, DESC_LENGTH);
    if (prev && !apart(prev, prevLen + 16, key, 32)) { sealEnd(scratch, area ^ 1, prev, prevLen, prevPp); prev = 0; }
    if (extent(desc, memEnd, s, false) == 0) {
      store<u32>(desc, 0, DESC_STATUS);
    } else {
      const pp = sealBegin(scratch, area, key, n0s ? load<u32>(n0s + (<usize>i << 2)) : 0, load<u32>(desc, DESC_COUNTER_LO),
        load<u32>(desc, DESC_COUNTER_HI), data, len, prev, prevLen, prevPp);
      prev = 0;
      // Its status is written now, so it may wait only when the status lies outside its bytes.
      if (apart(data, len + 16, <u32>desc, DESC_SIZE)) {
        prev = data; prevLen = len; prevPp = pp; area ^= 1;
      } else {
        sealEnd(scratch, area, data, len, pp);
      }
      store<u32>(desc, 1, DESC_STATUS);
    }
    i++; desc += DESC_SIZE;
  }
  if (prev) sealEnd(scratch, area ^ 1, prev, prevLen, prevPp);
  wipe(scratch, ks);
}

/** Opens `count` descriptors; returns how many authenticated. `n0s` as for sealBatch. */
export function openBatch(scratch: usize, desc: usize, count: u32, n0s: usize): u32 {
  const memEnd = <u64>memory.size() << 16;
  const s = <u32>scratch;
  let ok: u32 = 0;
  let ks: u32 = 0; // S_KS bytes written so far
  // The quad verified last and not yet decrypted (0: none), with its nonce words, states, verdict.
  let prev: usize = 0, prevN0s: usize = 0, prevSt: usize = 0, prevOk: u32 = 0;
  let i: u32 = 0;
  while (i < count) {
    if (count - i >= 4 && quadFits(desc, memEnd, s, true)) {
      if (prev && !quadsApart(prev, desc)) {
        // Finish the previous quad first, then look at this one again: its descriptors, keys
        // or packets may have changed with that plaintext, and must be checked as they are now.
        openQuadEnd(scratch, prev, prevN0s, prevSt, prevOk);
        ok += <u32>popcnt<u32>(prevOk);
        prev = 0;
        continue;
      }
      const st = scratch + (prevSt == scratch + X4_STATE ? X4_STATE2 : X4_STATE);
      const n0q = n0s ? n0s + (<usize>i << 2) : 0;
      const okMask = openQuadVerify(scratch, desc, n0q, st, prev, prevN0s, prevSt, prevOk);
      if (prev) ok += <u32>popcnt<u32>(prevOk);
      prev = desc; prevN0s = n0q; prevSt = st; prevOk = okMask;
      ks = X4_KS_BYTES;
      i += 4; desc += 4 * DESC_SIZE;
      continue;
    }
    if (prev) {
      openQuadEnd(scratch, prev, prevN0s, prevSt, prevOk);
      ok += <u32>popcnt<u32>(prevOk);
      prev = 0;
    }
    const len = load<u32>(desc, DESC_LENGTH);
    if (extent(desc, memEnd, s, true) == 0) {
      store<u32>(desc, 0, DESC_STATUS);
    } else {
      const r = openFast(scratch, load<u32>(desc, DESC_KEY), n0s ? load<u32>(n0s + (<usize>i << 2)) : 0,
        load<u32>(desc, DESC_COUNTER_LO), load<u32>(desc, DESC_COUNTER_HI), load<u32>(desc, DESC_DATA), len, 0, 0);
      store<u32>(desc, r, DESC_STATUS);
      ok += r;
      ks = max<u32>(ks, openKsBytes(len));
    }
    i++; desc += DESC_SIZE;
  }
  if (prev) {
    openQuadEnd(scratch, prev, prevN0s, prevSt, prevOk);
    ok += <u32>popcnt<u32>(prevOk);
  }
  wipe(scratch, ks);
  return ok;
}
