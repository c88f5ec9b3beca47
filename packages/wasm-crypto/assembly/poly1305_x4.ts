// Poly1305 (RFC 8439 §2.5) for four messages at once, five 26-bit limbs as in poly1305.ts:
// lane i of every vector belongs to message i (its own r and accumulator h).
// i64x2.extmul_low/high_i32x4_u multiply two lanes of 26-bit limbs into 64-bit products
// per instruction (V8 adds two unpacks to each).
// Where it is used, and why only there (measured 2026-11-30, batches of 1420 B): alone it
// MACs about 1.5x as fast as ChaCha20 four-wide encrypts, but inside the ChaCha20 loop it
// competes for the same vector units and registers (seal 0.85x of the one-packet path, against
// 1.00x for scalar steps there, chacha_x4.ts). So quad.ts uses it only where no ChaCha20 runs
// beside the MAC: the first quad of an open run, verified before anything is decrypted.
// The lanes' own states stay in poly1305.ts's layout (polyInit / polyPadded / polyFinish
// finish each message); this file gathers them into vectors and back.

import { HIBIT } from "./poly1305";

// Vector k of a u32x4 table at t: lane i from the u32 at l_i + off.
// @ts-ignore: decorator
@inline function gather(t: usize, k: usize, l0: usize, l1: usize, l2: usize, l3: usize, off: usize): void {
  v128.store(t + (k << 4), i32x4(load<u32>(l0 + off), load<u32>(l1 + off), load<u32>(l2 + off), load<u32>(l3 + off)));
}

/**
 * Gathers r (and 5r) and h of four poly1305.ts states (`lanes`, 64 bytes apart) into the
 * vector tables `tr` (r0..r4, 5r1..5r4: 144 bytes) and `th` (h0..h4: 80 bytes).
 */
export function polyX4Load(lanes: usize, tr: usize, th: usize): void {
  const l0 = lanes, l1 = lanes + 64, l2 = lanes + 128, l3 = lanes + 192;
  for (let k: usize = 0; k < 5; k++) {
    gather(tr, k, l0, l1, l2, l3, k << 2);
    gather(th, k, l0, l1, l2, l3, 20 + (k << 2));
  }
  for (let k: usize = 1; k < 5; k++) {
    const r = v128.load(tr + (k << 4));
    v128.store(tr + ((4 + k) << 4), i32x4.add(r, i32x4.shl(r, 2)));
  }
}

/** Scatters h0..h4 from `th` back into the four lane states. */
export function polyX4Store(lanes: usize, th: usize): void {
  for (let k: usize = 0; k < 5; k++) {
    const h = v128.load(th + (k << 4));
    const off = <usize>20 + (k << 2);
    store<u32>(lanes + off, i32x4.extract_lane(h, 0));
    store<u32>(lanes + 64 + off, i32x4.extract_lane(h, 1));
    store<u32>(lanes + 128 + off, i32x4.extract_lane(h, 2));
    store<u32>(lanes + 192 + off, i32x4.extract_lane(h, 3));
  }
}

// Sum of five lane products a_k * b_k, for lanes 0..1 (lo) or 2..3 (hi), as u64x2.
// @ts-ignore: decorator
@inline function dotLo(a0: v128, b0: v128, a1: v128, b1: v128, a2: v128, b2: v128, a3: v128, b3: v128, a4: v128, b4: v128): v128 {
  return i64x2.add(i64x2.add(i64x2.add(i64x2.extmul_low_i32x4_u(a0, b0), i64x2.extmul_low_i32x4_u(a1, b1)),
    i64x2.add(i64x2.extmul_low_i32x4_u(a2, b2), i64x2.extmul_low_i32x4_u(a3, b3))), i64x2.extmul_low_i32x4_u(a4, b4));
}
// @ts-ignore: decorator
@inline function dotHi(a0: v128, b0: v128, a1: v128, b1: v128, a2: v128, b2: v128, a3: v128, b3: v128, a4: v128, b4: v128): v128 {
  return i64x2.add(i64x2.add(i64x2.add(i64x2.extmul_high_i32x4_u(a0, b0), i64x2.extmul_high_i32x4_u(a1, b1)),
    i64x2.add(i64x2.extmul_high_i32x4_u(a2, b2), i64x2.extmul_high_i32x4_u(a3, b3))), i64x2.extmul_high_i32x4_u(a4, b4));
}

// d0..d4 (u64x2, two lanes) carried into limbs; the top carry wraps round times 5. Results
// leave in the even u32 lanes (the odd ones are 0).
// @ts-ignore: decorator
@inline function carry(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, out: usize): void {
  const m = i64x2.splat(0x3ffffff);
  d1 = i64x2.add(d1, i64x2.shr_u(d0, 26)); d0 = v128.and(d0, m);
  d2 = i64x2.add(d2, i64x2.shr_u(d1, 26)); d1 = v128.and(d1, m);
  d3 = i64x2.add(d3, i64x2.shr_u(d2, 26)); d2 = v128.and(d2, m);
  d4 = i64x2.add(d4, i64x2.shr_u(d3, 26)); d3 = v128.and(d3, m);
  const c = i64x2.shr_u(d4, 26); d4 = v128.and(d4, m);
  d0 = i64x2.add(d0, i64x2.add(c, i64x2.shl(c, 2)));
  d1 = i64x2.add(d1, i64x2.shr_u(d0, 26)); d0 = v128.and(d0, m);
  v128.store(out, d0, 0); v128.store(out, d1, 16); v128.store(out, d2, 32);
  v128.store(out, d3, 48); v128.store(out, d4, 64);
}

/**
 * Absorbs the 16-byte block at p0+off .. p3+off of each of four messages into the
 * accumulators at `th` (loaded and stored back, so that the ChaCha20 loop can call this
 * between rounds without keeping h live), with the r table at `tr` (polyX4Load). `tmp` is
 * 160 bytes of scratch.
 */
// @ts-ignore: decorator
@inline export function polyX4Step(tr: usize, th: usize, tmp: usize, p0: usize, p1: usize, p2: usize, p3: usize): void {
  const m26 = i32x4.splat(0x3ffffff), hibit = i32x4.splat(HIBIT);
  const a = v128.load(p0), b = v128.load(p1), c = v128.load(p2), d = v128.load(p3);
  // Transpose: w_k = word k of the four messages' blocks.
  const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5), t1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(c, d, 0, 4, 1, 5), t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  const w0 = v128.shuffle<i64>(t0, t2, 0, 2), w1 = v128.shuffle<i64>(t0, t2, 1, 3);
  const w2 = v128.shuffle<i64>(t1, t3, 0, 2), w3 = v128.shuffle<i64>(t1, t3, 1, 3);
  const a0 = i32x4.add(v128.load(th, 0), v128.and(w0, m26));
  const a1 = i32x4.add(v128.load(th, 16), v128.and(v128.or(i32x4.shr_u(w0, 26), i32x4.shl(w1, 6)), m26));
  const a2 = i32x4.add(v128.load(th, 32), v128.and(v128.or(i32x4.shr_u(w1, 20), i32x4.shl(w2, 12)), m26));
  const a3 = i32x4.add(v128.load(th, 48), v128.and(v128.or(i32x4.shr_u(w2, 14), i32x4.shl(w3, 18)), m26));
  const a4 = i32x4.add(v128.load(th, 64), v128.or(i32x4.shr_u(w3, 8), hibit));
  const r0 = v128.load(tr, 0), r1 = v128.load(tr, 16), r2 = v128.load(tr, 32), r3 = v128.load(tr, 48), r4 = v128.load(tr, 64);
  const s1 = v128.load(tr, 80), s2 = v128.load(tr, 96), s3 = v128.load(tr, 112), s4 = v128.load(tr, 128);
  // h*r mod 2^130-5 for lanes 0..1, then 2..3 (limbs above 2^130 wrap times 5: the s terms).
  carry(
    dotLo(a0, r0, a1, s4, a2, s3, a3, s2, a4, s1), dotLo(a0, r1, a1, r0, a2, s4, a3, s3, a4, s2),
    dotLo(a0, r2, a1, r1, a2, r0, a3, s4, a4, s3), dotLo(a0, r3, a1, r2, a2, r1, a3, r0, a4, s4),
    dotLo(a0, r4, a1, r3, a2, r2, a3, r1, a4, r0), tmp);
  carry(
    dotHi(a0, r0, a1, s4, a2, s3, a3, s2, a4, s1), dotHi(a0, r1, a1, r0, a2, s4, a3, s3, a4, s2),
    dotHi(a0, r2, a1, r1, a2, r0, a3, s4, a4, s3), dotHi(a0, r3, a1, r2, a2, r1, a3, r0, a4, s4),
    dotHi(a0, r4, a1, r3, a2, r2, a3, r1, a4, r0), tmp + 80);
  // Back to u32x4: the even u32 lanes of the two halves.
  v128.store(th, v128.shuffle<i32>(v128.load(tmp, 0), v128.load(tmp, 80), 0, 2, 4, 6), 0);
  v128.store(th, v128.shuffle<i32>(v128.load(tmp, 16), v128.load(tmp, 96), 0, 2, 4, 6), 16);
  v128.store(th, v128.shuffle<i32>(v128.load(tmp, 32), v128.load(tmp, 112), 0, 2, 4, 6), 32);
  v128.store(th, v128.shuffle<i32>(v128.load(tmp, 48), v128.load(tmp, 128), 0, 2, 4, 6), 48);
  v128.store(th, v128.shuffle<i32>(v128.load(tmp, 64), v128.load(tmp, 144), 0, 2, 4, 6), 64);
}

/** Absorbs `blocks` full 16-byte blocks of each of four messages (at p0..p3): polyX4Step in a loop. */
export function polyX4(tr: usize, th: usize, tmp: usize, p0: usize, p1: usize, p2: usize, p3: usize, blocks: u32): void {
  for (let i: u32 = 0; i < blocks; i++, p0 += 16, p1 += 16, p2 += 16, p3 += 16) polyX4Step(tr, th, tmp, p0, p1, p2, p3);
}
