// Memory layout shared by every file of the module: where the reserved low memory ends and
// how one instance's scratch region is carved up. These are compile-time constants (AS
// inlines them), so the module has no data segment that a new instantiation could re-apply
// over a shared memory that other instances are using.

/** First address callers may use; below it nothing is read or written (0 stays "null"). */
export const HEAP_BASE: u32 = 1024;

/** Bytes of one instance's scratch region (src/memory.ts exports the same figure). */
export const SCRATCH_BYTES: u32 = 8192;

// Offsets inside the scratch region. Everything that can hold a secret after a call lies in
// one prefix, [0, S_KS + keystream bytes used), so one memory.fill wipes it (wipe.ts).
/** ChaCha20 input state (16 words) of the message being processed: holds the key. */
export const S_STATE: u32 = 0;
/** Poly1305 state: r limbs (5 words), h limbs (5 words), s (4 words): the one-time key. */
export const S_POLY: u32 = 64;
/** One zero-padded 16-byte block for Poly1305 tails and the lengths block. */
export const S_PAD: u32 = 128;
/** Computed tag (open compares it with the received one; for a rejected packet it is a forgery). */
export const S_TAG: u32 = 144;
/** XChaCha20 subkey derived by HChaCha20. */
export const S_SUBKEY: u32 = 160;
/** XChaCha20 12-byte nonce (4 zero bytes, then the nonce's last 8 bytes). */
export const S_XNONCE: u32 = 192;
/** Poly1305 coefficients for the SIMD loop (r, r*5, r^2, r^2*5 as u64; 144 bytes). */
export const S_POLYTAB: u32 = 208;
/**
 * The first quarter round of state columns 1-3, as chacha20_simd.ts computes it once per call
 * (12 vectors): none of them holds the block counter, so every group starts from them.
 */
export const S_FIRST: u32 = 384;
/**
 * Keystream buffer: 4-block groups, the whole keystream of a packet being opened, and the
 * HChaCha20 working state. Kept last so that the bytes in use are the end of the secret prefix.
 */
export const S_KS: u32 = 576;
/** Bytes of S_KS that keystream group 0 (Poly1305 key block + 3 blocks) fills; every call but a one-pass open stays within it. */
export const KS_GROUP: u32 = 256;
/** Largest sealed payload (bytes) whose keystream fits S_KS (one pass open); larger ones take two passes. */
export const KS_MAX_DATA: u32 = 4096;
/**
 * A second Poly1305 state and coefficient table after keystream group 0, for sealBatch's
 * chain (seal_chain.ts): the packet sealed last finishes its MAC here while the next one
 * starts in S_POLY. Only seals use it, and a seal writes no keystream past group 0.
 */
export const S_POLY_B: u32 = S_KS + KS_GROUP;
export const S_POLYTAB_B: u32 = S_POLY_B + 64;
// S_POLYTAB + 144 = 352 <= S_FIRST; S_FIRST + 192 = S_KS. S_KS holds the poly key block + data keystream rounded up to
// 4 blocks: 64 + 4096 + 192 = 4352 bytes; S_KS + 4352 = 4928 <= SCRATCH_BYTES.

// Four packets side by side (quad.ts): an area after the largest keystream a one-packet call
// writes, because a quad's lanes finish their tails with the one-packet code, which uses
// S_STATE, S_POLY and S_KS meanwhile.
/** Start of the four-packet area. */
export const S_X4: u32 = S_KS + 4352;
/** ChaCha20 input states of the four packets, transposed: vector k (16 bytes) = word k of each. */
export const X4_STATE: u32 = S_X4;
/** Keystream block 0 of each packet (64 bytes each): the four Poly1305 keys. */
export const X4_KEYS: u32 = S_X4 + 256;
/** Each packet's Poly1305 state in poly1305.ts's layout (64 bytes each). */
export const X4_LANES: u32 = S_X4 + 512;
/** r0..r4, 5*r1..5*r4 as u32x4 (lane i = packet i), 144 bytes. */
export const X4_R: u32 = S_X4 + 768;
/** Accumulators h0..h4 as u32x4, 80 bytes. */
export const X4_H: u32 = S_X4 + 912;
/** The four computed tags (open compares them). */
export const X4_TAG: u32 = S_X4 + 992;
/** Carried products of poly1305_x4.ts, 160 bytes. */
export const X4_TMP: u32 = S_X4 + 1056;
/** Each packet's coefficient table for the scalar pair step (poly1305.ts polyPowers, 144 bytes each). */
export const X4_PT: u32 = S_X4 + 1216;
/** Second transposed state: openBatch decrypts one quad while it starts and MACs the next. */
export const X4_STATE2: u32 = S_X4 + 1792;
/** Bytes of S_KS up to the end of the four-packet area: what a batch that used it wipes. */
export const X4_KS_BYTES: u32 = 4352 + 2048;
// S_KS + X4_KS_BYTES = 6976 <= SCRATCH_BYTES.

/** Descriptor layout of the batch API (src/descriptor.ts documents it). */
export const DESC_SIZE: u32 = 24;
export const DESC_KEY: u32 = 0;
export const DESC_COUNTER_LO: u32 = 4;
export const DESC_COUNTER_HI: u32 = 8;
export const DESC_DATA: u32 = 12;
export const DESC_LENGTH: u32 = 16;
export const DESC_STATUS: u32 = 20;
