// ChaCha20 (RFC 8439 §2.3) for four packets at once: lane i of vector xk is word k of packet
// i's block, so the four lanes run four different keys and nonces at one block counter.
// Why: chacha20_simd.ts fills the lanes with four blocks of one packet, so a packet costs
// whole 4-block groups (a 64-byte packet: the Poly1305 key block and 3 blocks for one; here
// 2 blocks), and every packet pays its own setup. Four packets side by side waste at most
// one block each, and their four Poly1305 chains are independent: the loop takes two blocks
// of two messages per double round, scalar, on the integer units beside the vector rounds.
// The rounds are those of chacha20_simd.ts (same rotations, same instruction choices).

import { polyBlockAt } from "./poly1305";

// @ts-ignore: decorator
@inline function rot16(d: v128, a: v128): v128 {
  return i8x16.swizzle(v128.xor(d, a), i8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}
// @ts-ignore: decorator
@inline function rot8(d: v128, a: v128): v128 {
  return i8x16.swizzle(v128.xor(d, a), i8x16(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14));
}
// @ts-ignore: decorator
@inline function rot(b: v128, c: v128, n: i32): v128 {
  const t = v128.xor(b, c);
  return v128.or(i32x4.shl(t, n), i32x4.shr_u(t, 32 - n));
}

// XORs words g..g+3 of the four packets' blocks (vectors a..d, lane i = packet i) into the
// 16 bytes at p0+g .. p3+g: a 4x4 transpose, then one row per packet.
// @ts-ignore: decorator
@inline function xorRows(p0: usize, p1: usize, p2: usize, p3: usize, g: usize, a: v128, b: v128, c: v128, d: v128): void {
  const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  v128.store(p0 + g, v128.xor(v128.load(p0 + g), v128.shuffle<i64>(t0, t2, 0, 2)));
  v128.store(p1 + g, v128.xor(v128.load(p1 + g), v128.shuffle<i64>(t0, t2, 1, 3)));
  v128.store(p2 + g, v128.xor(v128.load(p2 + g), v128.shuffle<i64>(t1, t3, 0, 2)));
  v128.store(p3 + g, v128.xor(v128.load(p3 + g), v128.shuffle<i64>(t1, t3, 1, 3)));
}

/**
 * XORs `blocks` keystream blocks of four packets, from block counter `ctr`, into p0..p3 in
 * place (block j at pi + 64*j). `st` holds the four input states transposed (16 vectors,
 * vector k = word k of packets 0..3; word 12 is ignored: every lane is at `ctr`).
 *
 * Meanwhile it can absorb `macBlocks` 64-byte blocks of four messages at m0..m3 into their
 * Poly1305 states (64 bytes apart at `ps`, coefficient tables 144 bytes apart at `pt`):
 * eight scalar pair steps per keystream block, in the first eight double rounds, on the
 * integer units while the vector units run the rounds. With `lag` MAC block j is absorbed
 * during keystream block j+1 (sealing MACs the ciphertext this loop wrote); without, during
 * keystream block j (opening decrypts one quad while it MACs the next).
 */
export function chachaX4(st: usize, ctr: u32, p0: usize, p1: usize, p2: usize, p3: usize, blocks: u32,
  ps: usize = 0, pt: usize = 0, m0: usize = 0, m1: usize = 0, m2: usize = 0, m3: usize = 0,
  macBlocks: u32 = 0, lag: bool = false): void {
  const skip: u32 = lag ? 1 : 0;
  for (let j: u32 = 0; j < blocks; j++, ctr++, p0 += 64, p1 += 64, p2 += 64, p3 += 64) {
    const mj = j - skip; // MAC block of this keystream block (wraps above macBlocks when none)
    const mo = <usize>mj << 6;
    let x0 = v128.load(st, 0), x1 = v128.load(st, 16), x2 = v128.load(st, 32), x3 = v128.load(st, 48);
    let x4 = v128.load(st, 64), x5 = v128.load(st, 80), x6 = v128.load(st, 96), x7 = v128.load(st, 112);
    let x8 = v128.load(st, 128), x9 = v128.load(st, 144), x10 = v128.load(st, 160), x11 = v128.load(st, 176);
    const c12 = i32x4.splat(ctr);
    let x12 = c12, x13 = v128.load(st, 208), x14 = v128.load(st, 224), x15 = v128.load(st, 240);
    // The rounds in chacha20_simd.ts's order: a column round, then nine times a diagonal
    // round, the MAC steps and the next column round, then the last diagonal round
    // (measured 1.03-1.05x the loop of whole double rounds at 512-1280 bytes, 1.12x at 64).
    // The first column round and the last diagonal round stand outside the loop on purpose
    // (a branch in the loop instead cost the one-packet loop 7-9%).
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5);
    x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
    x12 = rot16(x12, x0); x13 = rot16(x13, x1);
    x14 = rot16(x14, x2); x15 = rot16(x15, x3);
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13);
    x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
    x4 = rot(x4, x8, 12); x5 = rot(x5, x9, 12);
    x6 = rot(x6, x10, 12); x7 = rot(x7, x11, 12);
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5);
    x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
    x12 = rot8(x12, x0); x13 = rot8(x13, x1);
    x14 = rot8(x14, x2); x15 = rot8(x15, x3);
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13);
    x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
    x4 = rot(x4, x8, 7); x5 = rot(x5, x9, 7);
    x6 = rot(x6, x10, 7); x7 = rot(x7, x11, 7);
    for (let i = 0; i < 9; i++) {
      x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6);
      x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      x15 = rot16(x15, x0); x12 = rot16(x12, x1);
      x13 = rot16(x13, x2); x14 = rot16(x14, x3);
      x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12);
      x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      x5 = rot(x5, x10, 12); x6 = rot(x6, x11, 12);
      x7 = rot(x7, x8, 12); x4 = rot(x4, x9, 12);
      x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6);
      x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      x15 = rot8(x15, x0); x12 = rot8(x12, x1);
      x13 = rot8(x13, x2); x14 = rot8(x14, x3);
      x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12);
      x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      x5 = rot(x5, x10, 7); x6 = rot(x6, x11, 7);
      x7 = rot(x7, x8, 7); x4 = rot(x4, x9, 7);
      if (mj < macBlocks && i < 8) {
        // 16-byte block i/2 of messages 0 and 1 (i even) or 2 and 3 (i odd): two independent chains.
        const q = mo + (<usize>(i >>> 1) << 4);
        if (i & 1) {
          polyBlockAt(ps + 128, pt + 288, m2 + q);
          polyBlockAt(ps + 192, pt + 432, m3 + q);
        } else {
          polyBlockAt(ps, pt, m0 + q);
          polyBlockAt(ps + 64, pt + 144, m1 + q);
        }
      }
      x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5);
      x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      x12 = rot16(x12, x0); x13 = rot16(x13, x1);
      x14 = rot16(x14, x2); x15 = rot16(x15, x3);
      x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13);
      x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      x4 = rot(x4, x8, 12); x5 = rot(x5, x9, 12);
      x6 = rot(x6, x10, 12); x7 = rot(x7, x11, 12);
      x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5);
      x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      x12 = rot8(x12, x0); x13 = rot8(x13, x1);
      x14 = rot8(x14, x2); x15 = rot8(x15, x3);
      x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13);
      x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      x4 = rot(x4, x8, 7); x5 = rot(x5, x9, 7);
      x6 = rot(x6, x10, 7); x7 = rot(x7, x11, 7);
    }
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6);
    x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
    x15 = rot16(x15, x0); x12 = rot16(x12, x1);
    x13 = rot16(x13, x2); x14 = rot16(x14, x3);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12);
    x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
    x5 = rot(x5, x10, 12); x6 = rot(x6, x11, 12);
    x7 = rot(x7, x8, 12); x4 = rot(x4, x9, 12);
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6);
    x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
    x15 = rot8(x15, x0); x12 = rot8(x12, x1);
    x13 = rot8(x13, x2); x14 = rot8(x14, x3);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12);
    x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
    x5 = rot(x5, x10, 7); x6 = rot(x6, x11, 7);
    x7 = rot(x7, x8, 7); x4 = rot(x4, x9, 7);
    x0 = i32x4.add(x0, v128.load(st, 0)); x1 = i32x4.add(x1, v128.load(st, 16));
    x2 = i32x4.add(x2, v128.load(st, 32)); x3 = i32x4.add(x3, v128.load(st, 48));
    xorRows(p0, p1, p2, p3, 0, x0, x1, x2, x3);
    x4 = i32x4.add(x4, v128.load(st, 64)); x5 = i32x4.add(x5, v128.load(st, 80));
    x6 = i32x4.add(x6, v128.load(st, 96)); x7 = i32x4.add(x7, v128.load(st, 112));
    xorRows(p0, p1, p2, p3, 16, x4, x5, x6, x7);
    x8 = i32x4.add(x8, v128.load(st, 128)); x9 = i32x4.add(x9, v128.load(st, 144));
    x10 = i32x4.add(x10, v128.load(st, 160)); x11 = i32x4.add(x11, v128.load(st, 176));
    xorRows(p0, p1, p2, p3, 32, x8, x9, x10, x11);
    x12 = i32x4.add(x12, c12); x13 = i32x4.add(x13, v128.load(st, 208));
    x14 = i32x4.add(x14, v128.load(st, 224)); x15 = i32x4.add(x15, v128.load(st, 240));
    xorRows(p0, p1, p2, p3, 48, x12, x13, x14, x15);
  }
}

/** Writes the four packets' transposed input states to `st` (word 12, the counter, is 0). */
export function setupX4(st: usize, key0: usize, key1: usize, key2: usize, key3: usize,
  n0: u32, n1: u32, n2: u32, n3: u32, lo0: u32, lo1: u32, lo2: u32, lo3: u32, hi0: u32, hi1: u32, hi2: u32, hi3: u32): void {
  v128.store(st, i32x4.splat(0x61707865), 0);
  v128.store(st, i32x4.splat(0x3320646e), 16);
  v128.store(st, i32x4.splat(0x79622d32), 32);
  v128.store(st, i32x4.splat(0x6b206574), 48);
  for (let k: usize = 0; k < 32; k += 4) {
    v128.store(st + 64 + (k << 2), i32x4(load<u32>(key0 + k), load<u32>(key1 + k), load<u32>(key2 + k), load<u32>(key3 + k)));
  }
  v128.store(st, i32x4.splat(0), 192);
  v128.store(st, i32x4(n0, n1, n2, n3), 208);
  v128.store(st, i32x4(lo0, lo1, lo2, lo3), 224);
  v128.store(st, i32x4(hi0, hi1, hi2, hi3), 240);
}
