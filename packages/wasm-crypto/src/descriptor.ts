// Layout of one packet descriptor of the batch API (AeadInstance.sealBatch / openBatch), and
// the helpers that read and write it. Descriptors are consecutive DESC_SIZE-byte records in
// the shared memory; every field is a little-endian u32 at the given byte offset. The nonce is
// WireGuard's (4 zero bytes, then the 64-bit counter little-endian) and the AAD is empty.
// This file is the one owner of the layout on the TypeScript side (assembly/layout.ts holds
// the same figures for the module): callers use writeDescriptor / descriptorOk /
// failDescriptor or the DESC_* offsets, never offsets of their own.

/**
 * Size in bytes of one descriptor.
 *
 * @example
 * ```ts
 * const i32 = new Int32Array(memory.buffer);
 * writeDescriptor(i32, descPtr, i, keyPtr, counterLo, counterHi, packetPtr, plaintextLength);
 * aead.sealBatch(descPtr, count);
 * const ok = descriptorOk(i32, descPtr, i);
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

// The same offsets in 32-bit words, for Int32Array access.
const W_SIZE = DESC_SIZE >> 2;
const W_KEY = DESC_KEY >> 2;
const W_COUNTER_LO = DESC_COUNTER_LO >> 2;
const W_COUNTER_HI = DESC_COUNTER_HI >> 2;
const W_DATA = DESC_DATA >> 2;
const W_LENGTH = DESC_LENGTH >> 2;
const W_STATUS = DESC_STATUS >> 2;

/**
 * Fills descriptor `j` of the descriptor array at `descPtr`: key, nonce counter, packet
 * address and length, and status 0 (so a descriptor the module never reaches reads as failed).
 * Meant for the per-packet path: no allocation and no argument checks. The module checks
 * every descriptor's key and data range when the batch runs (status 0 when one is unusable);
 * what this function cannot check is that the arguments fit in a u32 (numbers are stored
 * modulo 2^32, as Int32Array does).
 *
 * @param i32 - an Int32Array over the whole shared memory (`new Int32Array(memory.buffer)`, offset 0)
 * @param descPtr - byte address of the descriptor array, 4-byte aligned (as sealBatch/openBatch require)
 * @param j - index of the descriptor in the array
 * @param keyPtr - byte address of the 32-byte key
 * @param counterLo - low 32 bits of the 64-bit nonce counter
 * @param counterHi - high 32 bits of the nonce counter
 * @param data - byte address of the packet
 * @param length - seal: plaintext length (the tag goes at data+length); open: sealed length, tag included
 * @example
 * ```ts
 * const i32 = new Int32Array(memory.buffer);
 * for (let j = 0; j < n; j++) writeDescriptor(i32, descPtr, j, keyPtr, counter + j, 0, slot(j), lengths[j]);
 * aead.sealBatch(descPtr, n);
 * ```
 */
export function writeDescriptor(
  i32: Int32Array, descPtr: number, j: number,
  keyPtr: number, counterLo: number, counterHi: number, data: number, length: number,
): void {
  const w = (descPtr >>> 2) + j * W_SIZE;
  i32[w + W_KEY] = keyPtr;
  i32[w + W_COUNTER_LO] = counterLo;
  i32[w + W_COUNTER_HI] = counterHi;
  i32[w + W_DATA] = data;
  i32[w + W_LENGTH] = length;
  i32[w + W_STATUS] = 0;
}

/**
 * True when descriptor `j` has status 1: sealed, or (open) authentic with the plaintext in
 * place at its data address (length - 16 bytes). False for a failed, not yet processed or
 * failDescriptor'ed one. No allocation, no checks.
 *
 * @param i32 - an Int32Array over the whole shared memory (offset 0)
 * @param descPtr - byte address of the descriptor array, 4-byte aligned
 * @param j - index of the descriptor in the array
 * @example
 * ```ts
 * const authentic = aead.openBatch(descPtr, n);
 * for (let j = 0; j < n; j++) if (descriptorOk(i32, descPtr, j)) deliver(j);
 * ```
 */
export function descriptorOk(i32: Int32Array, descPtr: number, j: number): boolean {
  return i32[(descPtr >>> 2) + j * W_SIZE + W_STATUS] === 1;
}

/**
 * Sets descriptor `j`'s status to 0 (failed), e.g. when a packet that authenticated is then
 * refused by a later check such as a replay window, so that descriptorOk reads false for it.
 * It changes only the status: an opened packet's plaintext stays in place. No allocation,
 * no checks.
 *
 * @param i32 - an Int32Array over the whole shared memory (offset 0)
 * @param descPtr - byte address of the descriptor array, 4-byte aligned
 * @param j - index of the descriptor in the array
 * @example
 * ```ts
 * if (descriptorOk(i32, descPtr, j) && !replayAccept(counter)) failDescriptor(i32, descPtr, j);
 * ```
 */
export function failDescriptor(i32: Int32Array, descPtr: number, j: number): void {
  i32[(descPtr >>> 2) + j * W_SIZE + W_STATUS] = 0;
}

/**
 * Descriptor `j`'s length: for an open, the sealed length (tag included), so that an
 * authentic packet's plaintext is `descriptorLength - TAG_BYTES` bytes at its data address.
 */
export function descriptorLength(i32: Int32Array, descPtr: number, j: number): number {
  return i32[(descPtr >>> 2) + j * W_SIZE + W_LENGTH] >>> 0;
}
