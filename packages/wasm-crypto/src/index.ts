// @taltun/wasm-crypto: ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 in WebAssembly,
// sealing and opening packets in place in a shared memory, one call per batch.

/** Package version, kept in step with package.json. */
export const VERSION = "0.1.1";

export { seal, open, xseal, xopen } from "./aead.js";
export { createSharedMemory, HEAP_BASE, SCRATCH_BYTES, DEFAULT_MEMORY_BYTES } from "./memory.js";
export { compileAeadModule, instantiateAead, type AeadInstance } from "./instance.js";
export {
  DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI, DESC_DATA, DESC_LENGTH, DESC_STATUS, TAG_BYTES,
  writeDescriptor, descriptorOk, failDescriptor, descriptorLength,
} from "./descriptor.js";
export type { AeadExports } from "./_wasm.js";
