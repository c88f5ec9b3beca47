// Layout of one packet descriptor of the batch API (AeadInstance.sealBatch / openBatch).
// Descriptors are consecutive DESC_SIZE-byte records in the shared memory; every field is a
// little-endian u32 at the given byte offset. The nonce is WireGuard's (4 zero bytes, then the
// 64-bit counter little-endian) and the AAD is empty.

/**
 * Size in bytes of one descriptor.
 *
 * @example
 * ```ts
 * const dv = new DataView(memory.buffer);
 * const d = descPtr + i * DESC_SIZE;
 * dv.setUint32(d + DESC_KEY, keyPtr, true);
 * dv.setUint32(d + DESC_COUNTER_LO, Number(counter & 0xffffffffn), true);
 * dv.setUint32(d + DESC_COUNTER_HI, Number(counter >> 32n), true);
 * dv.setUint32(d + DESC_DATA, packetPtr, true);
 * dv.setUint32(d + DESC_LENGTH, plaintextLength, true);
 * aead.sealBatch(descPtr, count);
 * const ok = dv.getUint32(d + DESC_STATUS, true) === 1;
 * ```
 */
export const DESC_SIZE = 24;
/** Address of the 32-byte key. */
export const DESC_KEY = 0;
/** Low 32 bits of the 64-bit nonce counter. */
export const DESC_COUNTER_LO = 4;
/** High 32 bits of the 64-bit nonce counter. */
export const DESC_COUNTER_HI = 8;
/** Address of the packet: plaintext (seal; the 16-byte tag is written after it) or ciphertext+tag (open). */
export const DESC_DATA = 12;
/** Seal: plaintext length. Open: sealed length, tag included. */
export const DESC_LENGTH = 16;
/**
 * Written by the module: 1 = sealed / authentic (open: plaintext now in place at DESC_DATA,
 * length - 16 bytes), 0 = failed (bad tag or a descriptor pointing outside usable memory):
 * data untouched.
 */
export const DESC_STATUS = 20;
/** Bytes of the authentication tag. */
export const TAG_BYTES = 16;
