// ChaCha20 (RFC 8439 §2.3) and HChaCha20 (draft-irtf-cfrg-xchacha §2.2), scalar reference.
// Readable over fast: the state lives in memory and each quarter round reads and writes it.
// The SIMD path (chacha20_simd.ts) must produce exactly these bytes; tests hold them equal.

// "expand 32-byte k" as four little-endian words (RFC 8439 §2.3). Computed in code, never as
// static data, so nothing of the module lives in the shared memory.
export const SIGMA0: u32 = 0x61707865;
export const SIGMA1: u32 = 0x3320646e;
export const SIGMA2: u32 = 0x79622d32;
export const SIGMA3: u32 = 0x6b206574;

/** Writes the 16-word input state (counter word 12 = 0) for `key` and nonce words n0..n2 to `st`. */
export function setupState(st: usize, key: usize, n0: u32, n1: u32, n2: u32): void {
  store<u32>(st, SIGMA0, 0);
  store<u32>(st, SIGMA1, 4);
  store<u32>(st, SIGMA2, 8);
  store<u32>(st, SIGMA3, 12);
  store<u64>(st, load<u64>(key, 0), 16);
  store<u64>(st, load<u64>(key, 8), 24);
  store<u64>(st, load<u64>(key, 16), 32);
  store<u64>(st, load<u64>(key, 24), 40);
  store<u32>(st, 0, 48);
  store<u32>(st, n0, 52);
  store<u32>(st, n1, 56);
  store<u32>(st, n2, 60);
}

// One quarter round on words a, b, c, d of the working state at `w` (RFC 8439 §2.1).
@inline function qr(w: usize, a: u32, b: u32, c: u32, d: u32): void {
  const pa = w + (a << 2), pb = w + (b << 2), pc = w + (c << 2), pd = w + (d << 2);
  let x = load<u32>(pa), y = load<u32>(pb), z = load<u32>(pc), t = load<u32>(pd);
  x += y; t = rotl<u32>(t ^ x, 16);
  z += t; y = rotl<u32>(y ^ z, 12);
  x += y; t = rotl<u32>(t ^ x, 8);
  z += t; y = rotl<u32>(y ^ z, 7);
  store<u32>(pa, x); store<u32>(pb, y); store<u32>(pc, z); store<u32>(pd, t);
}

// 20 rounds (10 column + 10 diagonal) over the 16 words at `w`.
function rounds(w: usize): void {
  for (let i = 0; i < 10; i++) {
    qr(w, 0, 4, 8, 12); qr(w, 1, 5, 9, 13); qr(w, 2, 6, 10, 14); qr(w, 3, 7, 11, 15);
    qr(w, 0, 5, 10, 15); qr(w, 1, 6, 11, 12); qr(w, 2, 7, 8, 13); qr(w, 3, 4, 9, 14);
  }
}

/** Writes the 64-byte keystream block for block counter `ctr` of state `st` to `out`. */
export function chachaBlock(st: usize, ctr: u32, out: usize): void {
  for (let i: usize = 0; i < 64; i += 8) store<u64>(out + i, load<u64>(st + i));
  store<u32>(out, ctr, 48);
  rounds(out);
  for (let i: usize = 0; i < 64; i += 4) {
    const add = i == 48 ? ctr : load<u32>(st + i);
    store<u32>(out + i, load<u32>(out + i) + add);
  }
}

/** XORs `len` bytes at `data` in place with the keystream of state `st`, from block `ctr`. */
export function chachaXor(st: usize, ctr: u32, data: usize, len: u32, ks: usize): void {
  let off: u32 = 0;
  while (off < len) {
    chachaBlock(st, ctr++, ks);
    const n = min<u32>(64, len - off);
    for (let i: u32 = 0; i < n; i++) {
      store<u8>(data + off + i, load<u8>(data + off + i) ^ load<u8>(ks + i));
    }
    off += n;
  }
}

/**
 * HChaCha20: the 32-byte subkey for `key` and the first 16 bytes of an XChaCha20 nonce,
 * written to `out`. The working state is built at `out` (a 64-byte area).
 */
export function hchacha20(key: usize, nonce16: usize, out: usize): void {
  setupState(out, key, 0, 0, 0);
  store<u32>(out, load<u32>(nonce16, 0), 48);
  store<u32>(out, load<u32>(nonce16, 4), 52);
  store<u32>(out, load<u32>(nonce16, 8), 56);
  store<u32>(out, load<u32>(nonce16, 12), 60);
  rounds(out);
  // Subkey = words 0..3 and 12..15 of the permuted state, without the feed-forward add.
  store<u64>(out, load<u64>(out, 48), 16);
  store<u64>(out, load<u64>(out, 56), 24);
}
