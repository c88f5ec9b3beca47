// sealBatch's one-packet path as a chain. Sealing MACs the ciphertext one keystream group
// behind the keystream (it can only MAC bytes already written), so a packet's last group
// would be MACed alone after its loop: scalar, latency-bound work with nothing beside it
// (13 of a 1420-byte packet's 89 blocks; skipping it made the seal 7% faster). Here that
// rest is absorbed while the next packet's keystream group 0 runs, whose rounds have no MAC
// of their own (the next packet's Poly1305 key is what that group computes). Two Poly1305
// areas take turns; the earlier packet's tag is written before the next packet's data is
// touched. batch.ts decides when a packet may wait (see there).

import { setupState } from "./chacha20";
import { chachaPolyKs } from "./chacha20_simd";
import { polyInit, polyPowers, polyPadded, polyFinish } from "./poly1305";
import { xorBytes, xorTail } from "./aead";
import { S_STATE, S_POLY, S_POLYTAB, S_POLY_B, S_POLYTAB_B, S_PAD, S_KS } from "./layout";

// Poly1305 state and coefficient table of area 0 or 1.
// @ts-ignore: decorator
@inline function polyState(scratch: usize, area: u32): usize {
  return scratch + (area ? S_POLY_B : S_POLY);
}
// @ts-ignore: decorator
@inline function polyTable(scratch: usize, area: u32): usize {
  return scratch + (area ? S_POLYTAB_B : S_POLYTAB);
}

/**
 * Seals `len` bytes at `data` in place (WireGuard's AEAD: no AAD) with Poly1305 area `area`,
 * all but the MAC of its last keystream group; returns where its MAC stopped, for sealEnd
 * or the next sealBegin. When `prevData` is not 0 it first finishes the packet begun before
 * (`prevLen` bytes, MAC stopped at `prevPp`, in the other area), during keystream group 0.
 */
export function sealBegin(scratch: usize, area: u32, key: usize, n0: u32, n1: u32, n2: u32, data: usize, len: u32,
  prevData: usize, prevLen: u32, prevPp: usize): usize {
  const st = scratch + S_STATE, ks = scratch + S_KS;
  const ps = polyState(scratch, area), pt = polyTable(scratch, area);
  setupState(st, key, n0, n1, n2);
  if (prevData) {
    const other = area ^ 1;
    const pp = chachaPolyKs(st, polyState(scratch, other), polyTable(scratch, other), 0, ks, 1, prevPp, prevData + (prevLen & ~15));
    sealEnd(scratch, other, prevData, prevLen, pp);
  } else {
    chachaPolyKs(st, ps, pt, 0, ks, 1, 0, 0);
  }
  polyInit(ps, ks);
  // Even for a short packet: the next packet's group 0 MACs this one's rest with the table.
  polyPowers(ps, pt);
  xorBytes(data, ks + 64, min<u32>(len, 192));
  return len > 192 ? xorTail(scratch, ps, pt, data, len, data, true) : data;
}

/** Finishes a packet sealBegin left in `area`: the MAC from `pp` on, and the tag after the data. */
export function sealEnd(scratch: usize, area: u32, data: usize, len: u32, pp: usize): void {
  const ps = polyState(scratch, area), pad = scratch + S_PAD;
  polyPadded(ps, pp, <u32>(data + len - pp), pad);
  polyFinish(ps, 0, len, pad, data + len);
}
