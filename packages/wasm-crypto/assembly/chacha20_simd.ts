// ChaCha20 (RFC 8439 §2.3) four blocks at a time in 128-bit SIMD lanes, with Poly1305
// (RFC 8439 §2.5) absorbed in the same loop. Lane i of vector xk is word k of block ctr+i.
// Why interleave: Poly1305's multiply chain is latency-bound scalar work and ChaCha20 is
// throughput-bound vector work; in one loop body the CPU overlaps them (measured -25% versus
// a separate MAC pass; packages/wasm-crypto/README.md has the figures).
// Rotations by 16 and 8 are byte permutations: i8x16.swizzle with a constant mask is one
// instruction (pshufb); 12 and 7 need shift+shift+or.
// The first quarter round of columns 1-3 does not involve the block counter (word 12, in
// column 0), so it is the same in every group: it is done once per call (S_FIRST) and each
// group's first column round does column 0 only: 3 of 80 quarter rounds saved.

import { HIBIT } from "./poly1305";
import { S_FIRST, S_STATE } from "./layout";

const M26: u64 = 0x3ffffff;

// (d ^ a) rotated left by 16 / by 8 in every lane: a byte permutation with a constant mask
// (the mask is an immediate of the instruction, not data in memory).
// @ts-ignore: decorator
@inline function rot16(d: v128, a: v128): v128 {
  return i8x16.swizzle(v128.xor(d, a), i8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}
// @ts-ignore: decorator
@inline function rot8(d: v128, a: v128): v128 {
  return i8x16.swizzle(v128.xor(d, a), i8x16(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14));
}

// (b ^ c) rotated left by n in every lane.
// @ts-ignore: decorator
@inline function rot(b: v128, c: v128, n: i32): v128 {
  const t = v128.xor(b, c);
  return v128.or(i32x4.shl(t, n), i32x4.shr_u(t, 32 - n));
}

// Writes 16 keystream bytes at out+off: stored as they are, or XORed into the bytes already
// there (in place).
// @ts-ignore: decorator
@inline function emit(out: usize, off: usize, v: v128, inPlace: bool): void {
  if (inPlace) v128.store(out + off, v128.xor(v128.load(out + off), v));
  else v128.store(out + off, v);
}

// Transposes words 4g..4g+3 of the four blocks (vectors a..d hold one word of each block)
// into four block-contiguous 16-byte rows and emits them.
// @ts-ignore: decorator
@inline function emitRows(out: usize, g: usize, a: v128, b: v128, c: v128, d: v128, inPlace: bool): void {
  const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  emit(out, g, v128.shuffle<i64>(t0, t2, 0, 2), inPlace);
  emit(out, g + 64, v128.shuffle<i64>(t0, t2, 1, 3), inPlace);
  emit(out, g + 128, v128.shuffle<i64>(t1, t3, 0, 2), inPlace);
  emit(out, g + 192, v128.shuffle<i64>(t1, t3, 1, 3), inPlace);
}

/**
 * Generates `groups` groups of four keystream blocks of state `st` (16 words) from block
 * counter `ctr`, 256 bytes per group at `out`: XORed in place (`inPlace`) or stored.
 * Meanwhile absorbs 16-byte Poly1305 blocks in pairs from `pp` (state at `ps`, coefficients
 * at `pt`, see poly1305.ts), at most 18 per group, never past `lim` and, in place, never past
 * the bytes already written (sealing MACs the ciphertext this loop produced). Returns where
 * the MAC stopped; a last odd block is left to the caller.
 */
// @ts-ignore: decorator
@inline function core(st: usize, ps: usize, pt: usize, ctr: u32, out: usize, groups: u32, inPlace: bool, pp: usize, lim: usize): usize {
  const t = pt; // u64 coefficients (poly1305.ts polyPowers): r, r*5, r^2, r^2*5
  let h0 = <u64>load<u32>(ps, 20), h1 = <u64>load<u32>(ps, 24), h2 = <u64>load<u32>(ps, 28);
  let h3 = <u64>load<u32>(ps, 32), h4 = <u64>load<u32>(ps, 36);
  // Column c's words a, b, c, d after its first quarter round, 64 bytes a column from `first`.
  const first = st - S_STATE + S_FIRST;
  for (let c: usize = 1; c < 4; c++) {
    let a = v128.load32_splat(st + (c << 2)), b = v128.load32_splat(st + 16 + (c << 2));
    let k = v128.load32_splat(st + 32 + (c << 2)), d = v128.load32_splat(st + 48 + (c << 2));
    a = i32x4.add(a, b); d = rot16(d, a);
    k = i32x4.add(k, d); b = rot(b, k, 12);
    a = i32x4.add(a, b); d = rot8(d, a);
    k = i32x4.add(k, d); b = rot(b, k, 7);
    const at = first + ((c - 1) << 6);
    v128.store(at, a); v128.store(at, b, 16); v128.store(at, k, 32); v128.store(at, d, 48);
  }
  for (let grp: u32 = 0; grp < groups; grp++, ctr += 4, out += 256) {
    // Column 0 from the input state; columns 1-3 after their first quarter round.
    let x0 = v128.load32_splat(st, 0), x4 = v128.load32_splat(st, 16), x8 = v128.load32_splat(st, 32);
    const c12 = i32x4.add(i32x4.splat(ctr), i32x4(0, 1, 2, 3));
    let x12 = c12;
    let x1 = v128.load(first, 0), x5 = v128.load(first, 16), x9 = v128.load(first, 32), x13 = v128.load(first, 48);
    let x2 = v128.load(first, 64), x6 = v128.load(first, 80), x10 = v128.load(first, 96), x14 = v128.load(first, 112);
    let x3 = v128.load(first, 128), x7 = v128.load(first, 144), x11 = v128.load(first, 160), x15 = v128.load(first, 176);
    // Poly1305 may read up to here in this group: in place, only what is already ciphertext.
    const plim = inPlace ? min<usize>(lim, out) : lim;
    // The first column round: column 0 alone (columns 1-3 are done above).
    x0 = i32x4.add(x0, x4); x12 = rot16(x12, x0);
    x8 = i32x4.add(x8, x12); x4 = rot(x4, x8, 12);
    x0 = i32x4.add(x0, x4); x12 = rot8(x12, x0);
    x8 = i32x4.add(x8, x12); x4 = rot(x4, x8, 7);
    // Then nine times a diagonal round, two Poly1305 blocks and the next column round, and
    // the last diagonal round. With the first quarter rounds above, this order measured
    // 1.19-1.21x a loop of ten whole double rounds on 1420-byte packets (one core, 2026-11-30;
    // the first quarter rounds alone: 1.05x); V8 keeps the state in registers better. The
    // last diagonal round stands outside the loop on purpose: `if (i < 9)` around the column
    // round instead, to write the diagonal round once, measured 0.91-0.93x.
    for (let i = 0; i < 9; i++) {
      // Diagonal round.
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
      // Two Poly1305 blocks per double round as h = (h + m1)*r^2 + m2*r: the m2*r products
      // do not wait for h, and one carry chain serves both blocks.
      if (pp + 32 <= plim) {
        const m0 = load<u64>(pp, 0), m1 = load<u64>(pp, 8), n0 = load<u64>(pp, 16), n1 = load<u64>(pp, 24);
        const a0 = h0 + (m0 & M26), a1 = h1 + ((m0 >>> 26) & M26), a2 = h2 + (((m0 >>> 52) | (m1 << 12)) & M26);
        const a3 = h3 + ((m1 >>> 14) & M26), a4 = h4 + ((m1 >>> 40) | <u64>HIBIT);
        const b0 = n0 & M26, b1 = (n0 >>> 26) & M26, b2 = ((n0 >>> 52) | (n1 << 12)) & M26;
        const b3 = (n1 >>> 14) & M26, b4 = (n1 >>> 40) | <u64>HIBIT;
        const d0 = a0 * load<u64>(t, 72) + a1 * load<u64>(t, 136) + a2 * load<u64>(t, 128) + a3 * load<u64>(t, 120) + a4 * load<u64>(t, 112)
          + b0 * load<u64>(t, 0) + b1 * load<u64>(t, 64) + b2 * load<u64>(t, 56) + b3 * load<u64>(t, 48) + b4 * load<u64>(t, 40);
        let d1 = a0 * load<u64>(t, 80) + a1 * load<u64>(t, 72) + a2 * load<u64>(t, 136) + a3 * load<u64>(t, 128) + a4 * load<u64>(t, 120)
          + b0 * load<u64>(t, 8) + b1 * load<u64>(t, 0) + b2 * load<u64>(t, 64) + b3 * load<u64>(t, 56) + b4 * load<u64>(t, 48);
        let d2 = a0 * load<u64>(t, 88) + a1 * load<u64>(t, 80) + a2 * load<u64>(t, 72) + a3 * load<u64>(t, 136) + a4 * load<u64>(t, 128)
          + b0 * load<u64>(t, 16) + b1 * load<u64>(t, 8) + b2 * load<u64>(t, 0) + b3 * load<u64>(t, 64) + b4 * load<u64>(t, 56);
        let d3 = a0 * load<u64>(t, 96) + a1 * load<u64>(t, 88) + a2 * load<u64>(t, 80) + a3 * load<u64>(t, 72) + a4 * load<u64>(t, 136)
          + b0 * load<u64>(t, 24) + b1 * load<u64>(t, 16) + b2 * load<u64>(t, 8) + b3 * load<u64>(t, 0) + b4 * load<u64>(t, 64);
        let d4 = a0 * load<u64>(t, 104) + a1 * load<u64>(t, 96) + a2 * load<u64>(t, 88) + a3 * load<u64>(t, 80) + a4 * load<u64>(t, 72)
          + b0 * load<u64>(t, 32) + b1 * load<u64>(t, 24) + b2 * load<u64>(t, 16) + b3 * load<u64>(t, 8) + b4 * load<u64>(t, 0);
        d1 += d0 >>> 26; h0 = d0 & M26;
        d2 += d1 >>> 26; h1 = d1 & M26;
        d3 += d2 >>> 26; h2 = d2 & M26;
        d4 += d3 >>> 26; h3 = d3 & M26;
        h4 = d4 & M26;
        h0 += (d4 >>> 26) * 5;
        h1 += h0 >>> 26; h0 &= M26;
        pp += 32;
      }
      // Column round.
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
    // The last diagonal round.
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
    // Feed-forward: add the input state (RFC 8439 §2.3, step 3).
    x0 = i32x4.add(x0, v128.load32_splat(st, 0)); x1 = i32x4.add(x1, v128.load32_splat(st, 4));
    x2 = i32x4.add(x2, v128.load32_splat(st, 8)); x3 = i32x4.add(x3, v128.load32_splat(st, 12));
    x4 = i32x4.add(x4, v128.load32_splat(st, 16)); x5 = i32x4.add(x5, v128.load32_splat(st, 20));
    x6 = i32x4.add(x6, v128.load32_splat(st, 24)); x7 = i32x4.add(x7, v128.load32_splat(st, 28));
    x8 = i32x4.add(x8, v128.load32_splat(st, 32)); x9 = i32x4.add(x9, v128.load32_splat(st, 36));
    x10 = i32x4.add(x10, v128.load32_splat(st, 40)); x11 = i32x4.add(x11, v128.load32_splat(st, 44));
    x12 = i32x4.add(x12, c12); x13 = i32x4.add(x13, v128.load32_splat(st, 52));
    x14 = i32x4.add(x14, v128.load32_splat(st, 56)); x15 = i32x4.add(x15, v128.load32_splat(st, 60));
    emitRows(out, 0, x0, x1, x2, x3, inPlace);
    emitRows(out, 16, x4, x5, x6, x7, inPlace);
    emitRows(out, 32, x8, x9, x10, x11, inPlace);
    emitRows(out, 48, x12, x13, x14, x15, inPlace);
  }
  store<u32>(ps, <u32>h0, 20); store<u32>(ps, <u32>h1, 24); store<u32>(ps, <u32>h2, 28);
  store<u32>(ps, <u32>h3, 32); store<u32>(ps, <u32>h4, 36);
  return pp;
}

/** `core` XORing the keystream into `out` in place (seal, and open's second pass). */
export function chachaPolyXor(st: usize, ps: usize, pt: usize, ctr: u32, out: usize, groups: u32, pp: usize, lim: usize): usize {
  return core(st, ps, pt, ctr, out, groups, true, pp, lim);
}

/** `core` storing the keystream at `out` (open's first pass, partial groups). */
export function chachaPolyKs(st: usize, ps: usize, pt: usize, ctr: u32, out: usize, groups: u32, pp: usize, lim: usize): usize {
  return core(st, ps, pt, ctr, out, groups, false, pp, lim);
}

