// The shared linear memory of the data plane and the reserved areas inside it.

/** WebAssembly page size. */
const PAGE = 65536;

/**
 * First byte address (16-aligned) that callers may use freely. The module reserves the
 * memory below it (it has no static data, and address 0 stays an invalid pointer).
 */
export const HEAP_BASE = 1024;

/**
 * Size of one instance's scratch region. Every instance (one per worker) needs its own,
 * allocated by the caller at or above {@link HEAP_BASE} and passed to `instantiateAead`.
 * It holds the cipher state, the MAC state and the keystream of a packet being opened; the
 * module zeroes the part that held secrets before each call (or batch) returns.
 */
export const SCRATCH_BYTES = 8192;

/** Default size of {@link createSharedMemory}: 64 MiB. */
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Creates the shared memory the data plane works in: `shared`, with `initial == maximum`, so
 * it never grows and its address never moves; every worker and the C shim see the same bytes.
 *
 * @param bytes - size in bytes, rounded up to 64 KiB pages (default 64 MiB, at most 4 GiB)
 * @example
 * ```ts
 * const memory = createSharedMemory(16 << 20);
 * const aead = instantiateAead(memory, HEAP_BASE);
 * ```
 */
export function createSharedMemory(bytes: number = DEFAULT_MEMORY_BYTES): WebAssembly.Memory {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes <= 0 || bytes > 65536 * PAGE) {
    throw new TypeError("bytes must be a positive number of bytes, at most 4 GiB");
  }
  const pages = Math.ceil(bytes / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}
