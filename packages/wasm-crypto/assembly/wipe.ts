// Wiping the instance's scratch after a call. The scratch lives in memory shared with every
// worker and the C shim, so nothing secret may stay in it once an entry point returns: the
// ChaCha20 state (the key), the Poly1305 key, state and coefficients, the computed tag (for a
// rejected packet, the tag that would make it authentic), the XChaCha20 subkey and the
// keystream (HChaCha20's working state too). layout.ts puts all of them in one prefix of the
// scratch, [0, S_KS + keystream bytes written); the few public bytes inside it (the padding
// block, the XChaCha20 nonce) are wiped with it, which costs less than a second fill.
// Entry points for one message wipe after it; batch entry points wipe once, after the batch,
// as far as the largest keystream any packet of the batch wrote.

import { S_KS, KS_GROUP, KS_MAX_DATA, S_POLYTAB_B } from "./layout";

/** Zeroes scratch[0, S_KS + ksBytes): every secret a call leaves, given the S_KS bytes it wrote. */
// @ts-ignore: decorator
@inline export function wipe(scratch: usize, ksBytes: u32): void {
  memory.fill(scratch, 0, <usize>(S_KS + ksBytes));
}

/** Bytes of S_KS that sealing any message writes: group 0, and the last partial group over it. */
export const SEAL_KS_BYTES: u32 = KS_GROUP;

/** Bytes of S_KS a sealBatch without quads writes: SEAL_KS_BYTES and the chain's second Poly1305 area. */
export const SEAL_CHAIN_KS_BYTES: u32 = S_POLYTAB_B + 144 - S_KS;

/** Bytes of S_KS the reference path and HChaCha20 write: one block. */
export const BLOCK_KS_BYTES: u32 = 64;

/**
 * Bytes of S_KS that opening `sealedLen` bytes (tag included) may write (aead.ts openFast): a
 * one-pass open (192 < data length <= KS_MAX_DATA) stores the packet's whole keystream after
 * group 0; any other open, and xopen's HChaCha20 before a too-short packet is refused, stay in
 * group 0.
 */
// @ts-ignore: decorator
@inline export function openKsBytes(sealedLen: u32): u32 {
  if (sealedLen <= 16 + 192 || sealedLen - 16 > KS_MAX_DATA) return KS_GROUP;
  return KS_GROUP + (((sealedLen - 16 - 192 + 255) >>> 8) << 8);
}
