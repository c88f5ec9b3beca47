// Poly1305 (RFC 8439 §2.5) with five 26-bit limbs: WebAssembly has no 64x64->128 multiply,
// so products of 26-bit limbs (and 29-bit r*5) stay within a u64 with room for the sums.
// The state lives in a 56-byte area of the instance's scratch:
//   +0  r0..r4 (u32)   +20 h0..h4 (u32)   +40 s0..s3 (u32, the key's second half)

const M26: u32 = 0x3ffffff;
const M26L: u64 = 0x3ffffff;
/** The 2^128 bit of a full 16-byte block, as it lands in limb 4. */
export const HIBIT: u32 = 1 << 24;

/** Loads the one-time key (r clamped, s) from `key` (32 bytes) and zeroes h. */
export function polyInit(st: usize, key: usize): void {
  const t0 = load<u32>(key, 0), t1 = load<u32>(key, 4), t2 = load<u32>(key, 8), t3 = load<u32>(key, 12);
  // r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 26-bit limbs.
  store<u32>(st, t0 & 0x3ffffff, 0);
  store<u32>(st, ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03, 4);
  store<u32>(st, ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff, 8);
  store<u32>(st, ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff, 12);
  store<u32>(st, (t3 >>> 8) & 0x00fffff, 16);
  for (let i: usize = 20; i < 40; i += 4) store<u32>(st + i, 0);
  store<u64>(st, load<u64>(key, 16), 40);
  store<u64>(st, load<u64>(key, 24), 48);
}

/** Absorbs `n` 16-byte blocks at `m`; `hibit` is HIBIT for message blocks (RFC 8439 pads with 0x01). */
export function polyBlocks(st: usize, m: usize, n: u32, hibit: u32): void {
  const r0 = <u64>load<u32>(st, 0), r1 = <u64>load<u32>(st, 4), r2 = <u64>load<u32>(st, 8);
  const r3 = <u64>load<u32>(st, 12), r4 = <u64>load<u32>(st, 16);
  const s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
  let h0 = load<u32>(st, 20), h1 = load<u32>(st, 24), h2 = load<u32>(st, 28);
  let h3 = load<u32>(st, 32), h4 = load<u32>(st, 36);
  for (let i: u32 = 0; i < n; i++, m += 16) {
    const t0 = load<u32>(m, 0), t1 = load<u32>(m, 4), t2 = load<u32>(m, 8), t3 = load<u32>(m, 12);
    h0 += t0 & M26;
    h1 += ((t0 >>> 26) | (t1 << 6)) & M26;
    h2 += ((t1 >>> 20) | (t2 << 12)) & M26;
    h3 += ((t2 >>> 14) | (t3 << 18)) & M26;
    h4 += (t3 >>> 8) | hibit;
    // h *= r mod 2^130-5: limbs above 2^130 wrap around multiplied by 5 (the s terms).
    const g0 = <u64>h0, g1 = <u64>h1, g2 = <u64>h2, g3 = <u64>h3, g4 = <u64>h4;
    let d0 = g0 * r0 + g1 * s4 + g2 * s3 + g3 * s2 + g4 * s1;
    let d1 = g0 * r1 + g1 * r0 + g2 * s4 + g3 * s3 + g4 * s2;
    let d2 = g0 * r2 + g1 * r1 + g2 * r0 + g3 * s4 + g4 * s3;
    let d3 = g0 * r3 + g1 * r2 + g2 * r1 + g3 * r0 + g4 * s4;
    let d4 = g0 * r4 + g1 * r3 + g2 * r2 + g3 * r1 + g4 * r0;
    d1 += d0 >>> 26; h0 = <u32>d0 & M26;
    d2 += d1 >>> 26; h1 = <u32>d1 & M26;
    d3 += d2 >>> 26; h2 = <u32>d2 & M26;
    d4 += d3 >>> 26; h3 = <u32>d3 & M26;
    const c = <u32>(d4 >>> 26); h4 = <u32>d4 & M26;
    h0 += c * 5;
    h1 += h0 >>> 26; h0 &= M26;
  }
  store<u32>(st, h0, 20); store<u32>(st, h1, 24); store<u32>(st, h2, 28);
  store<u32>(st, h3, 32); store<u32>(st, h4, 36);
}

/**
 * Absorbs `len` bytes at `m` as RFC 8439 §2.8 does for AAD and ciphertext: whole blocks, then
 * the rest zero-padded to 16 bytes (in `pad`, a 16-byte scratch block).
 */
export function polyPadded(st: usize, m: usize, len: u32, pad: usize): void {
  const full = len >>> 4;
  if (full) polyBlocks(st, m, full, HIBIT);
  const rest = len & 15;
  if (rest) {
    store<u64>(pad, 0, 0); store<u64>(pad, 0, 8);
    memory.copy(pad, m + (full << 4), rest);
    polyBlocks(st, pad, 1, HIBIT);
  }
}

/** Absorbs the lengths block (aadLen, ctLen as u64 LE) and writes the 16-byte tag to `out`. */
export function polyFinish(st: usize, aadLen: u32, ctLen: u32, pad: usize, out: usize): void {
  store<u64>(pad, <u64>aadLen, 0);
  store<u64>(pad, <u64>ctLen, 8);
  polyBlocks(st, pad, 1, HIBIT);
  let h0 = load<u32>(st, 20), h1 = load<u32>(st, 24), h2 = load<u32>(st, 28);
  let h3 = load<u32>(st, 32), h4 = load<u32>(st, 36);
  // Fully carry h.
  h2 += h1 >>> 26; h1 &= M26;
  h3 += h2 >>> 26; h2 &= M26;
  h4 += h3 >>> 26; h3 &= M26;
  h0 += (h4 >>> 26) * 5; h4 &= M26;
  h1 += h0 >>> 26; h0 &= M26;
  // g = h + 5 - 2^130; take g when it is not negative (h >= p), in constant time.
  let g0 = h0 + 5; let c = g0 >>> 26; g0 &= M26;
  let g1 = h1 + c; c = g1 >>> 26; g1 &= M26;
  let g2 = h2 + c; c = g2 >>> 26; g2 &= M26;
  let g3 = h3 + c; c = g3 >>> 26; g3 &= M26;
  const g4 = h4 + c - (1 << 26);
  const useG = (g4 >>> 31) - 1; // all ones when g4 did not borrow
  const useH = ~useG;
  h0 = (h0 & useH) | (g0 & useG);
  h1 = (h1 & useH) | (g1 & useG);
  h2 = (h2 & useH) | (g2 & useG);
  h3 = (h3 & useH) | (g3 & useG);
  h4 = (h4 & useH) | (g4 & useG);
  // Back to four 32-bit words, then tag = (h + s) mod 2^128.
  const w0 = h0 | (h1 << 26);
  const w1 = (h1 >>> 6) | (h2 << 20);
  const w2 = (h2 >>> 12) | (h3 << 14);
  const w3 = (h3 >>> 18) | (h4 << 8);
  let f = <u64>w0 + <u64>load<u32>(st, 40); store<u32>(out, <u32>f, 0);
  f = <u64>w1 + <u64>load<u32>(st, 44) + (f >>> 32); store<u32>(out, <u32>f, 4);
  f = <u64>w2 + <u64>load<u32>(st, 48) + (f >>> 32); store<u32>(out, <u32>f, 8);
  f = <u64>w3 + <u64>load<u32>(st, 52) + (f >>> 32); store<u32>(out, <u32>f, 12);
}

/** Constant-time comparison of two 16-byte tags: 1 when equal. */
export function tagEqual(a: usize, b: usize): u32 {
  const d = (load<u32>(a, 0) ^ load<u32>(b, 0)) | (load<u32>(a, 4) ^ load<u32>(b, 4)) |
    (load<u32>(a, 8) ^ load<u32>(b, 8)) | (load<u32>(a, 12) ^ load<u32>(b, 12));
  // (d | -d) has its top bit set exactly when d != 0; no branch on secret data.
  return 1 ^ ((d | (0 - d)) >>> 31);
}

/**
 * Writes the u64 coefficients the SIMD loop multiplies by (chacha20_simd.ts) to `t`:
 * r0..r4, r1..r4 times 5, q = r^2 mod 2^130-5 (q0..q4), q1..q4 times 5 (144 bytes).
 * Two blocks then cost one carry chain: h' = (h + m1)*r^2 + m2*r.
 */
export function polyPowers(ps: usize, t: usize): void {
  const r0 = <u64>load<u32>(ps, 0), r1 = <u64>load<u32>(ps, 4), r2 = <u64>load<u32>(ps, 8);
  const r3 = <u64>load<u32>(ps, 12), r4 = <u64>load<u32>(ps, 16);
  const s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
  store<u64>(t, r0, 0); store<u64>(t, r1, 8); store<u64>(t, r2, 16); store<u64>(t, r3, 24); store<u64>(t, r4, 32);
  store<u64>(t, s1, 40); store<u64>(t, s2, 48); store<u64>(t, s3, 56); store<u64>(t, s4, 64);
  // r^2 mod 2^130-5, carried so every limb is at most 2^26 (q2 may exceed it by 1): small
  // enough that ten 2^27 x 2^29.4 products still sum below 2^64 in the SIMD loop.
  const d0 = r0 * r0 + r1 * s4 + r2 * s3 + r3 * s2 + r4 * s1;
  let d1 = r0 * r1 + r1 * r0 + r2 * s4 + r3 * s3 + r4 * s2;
  let d2 = r0 * r2 + r1 * r1 + r2 * r0 + r3 * s4 + r4 * s3;
  let d3 = r0 * r3 + r1 * r2 + r2 * r1 + r3 * r0 + r4 * s4;
  let d4 = r0 * r4 + r1 * r3 + r2 * r2 + r3 * r1 + r4 * r0;
  d1 += d0 >>> 26; let q0 = d0 & M26L;
  d2 += d1 >>> 26; let q1 = d1 & M26L;
  d3 += d2 >>> 26; const q2a = d2 & M26L;
  d4 += d3 >>> 26; const q3 = d3 & M26L;
  const q4 = d4 & M26L;
  q0 += (d4 >>> 26) * 5;
  q1 += q0 >>> 26; q0 &= M26L;
  const q2 = q2a + (q1 >>> 26); q1 &= M26L;
  store<u64>(t, q0, 72); store<u64>(t, q1, 80); store<u64>(t, q2, 88); store<u64>(t, q3, 96); store<u64>(t, q4, 104);
  store<u64>(t, q1 * 5, 112); store<u64>(t, q2 * 5, 120); store<u64>(t, q3 * 5, 128); store<u64>(t, q4 * 5, 136);
}

/**
 * Absorbs the 16-byte block at `m` into the state at `ps` (h at +20), h = (h + m)*r, with r
 * and 5r from the polyPowers table `t`. h stays in memory, so that a loop can take turns
 * between several messages' states (chacha_x4.ts). One block per step, not chacha20_simd.ts's
 * pairs with r^2: four messages give independent chains already, and a pair step (measured
 * the same speed) keeps twice the values live.
 */
// @ts-ignore: decorator
@inline export function polyBlockAt(ps: usize, t: usize, m: usize): void {
  const m0 = load<u64>(m, 0), m1 = load<u64>(m, 8);
  const a0 = <u64>load<u32>(ps, 20) + (m0 & M26L), a1 = <u64>load<u32>(ps, 24) + ((m0 >>> 26) & M26L);
  const a2 = <u64>load<u32>(ps, 28) + (((m0 >>> 52) | (m1 << 12)) & M26L);
  const a3 = <u64>load<u32>(ps, 32) + ((m1 >>> 14) & M26L), a4 = <u64>load<u32>(ps, 36) + ((m1 >>> 40) | <u64>HIBIT);
  const d0 = a0 * load<u64>(t, 0) + a1 * load<u64>(t, 64) + a2 * load<u64>(t, 56) + a3 * load<u64>(t, 48) + a4 * load<u64>(t, 40);
  let d1 = a0 * load<u64>(t, 8) + a1 * load<u64>(t, 0) + a2 * load<u64>(t, 64) + a3 * load<u64>(t, 56) + a4 * load<u64>(t, 48);
  let d2 = a0 * load<u64>(t, 16) + a1 * load<u64>(t, 8) + a2 * load<u64>(t, 0) + a3 * load<u64>(t, 64) + a4 * load<u64>(t, 56);
  let d3 = a0 * load<u64>(t, 24) + a1 * load<u64>(t, 16) + a2 * load<u64>(t, 8) + a3 * load<u64>(t, 0) + a4 * load<u64>(t, 64);
  let d4 = a0 * load<u64>(t, 32) + a1 * load<u64>(t, 24) + a2 * load<u64>(t, 16) + a3 * load<u64>(t, 8) + a4 * load<u64>(t, 0);
  d1 += d0 >>> 26;
  d2 += d1 >>> 26;
  d3 += d2 >>> 26;
  d4 += d3 >>> 26;
  const h0 = (d0 & M26L) + (d4 >>> 26) * 5;
  store<u32>(ps, <u32>(h0 & M26L), 20);
  store<u32>(ps, <u32>((d1 & M26L) + (h0 >>> 26)), 24);
  store<u32>(ps, <u32>(d2 & M26L), 28);
  store<u32>(ps, <u32>(d3 & M26L), 32);
  store<u32>(ps, <u32>(d4 & M26L), 36);
}
