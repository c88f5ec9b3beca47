/**
 * The one door to authenticated encryption in the engine: ChaCha20-Poly1305 (RFC 8439)
 * for handshake fields and transport data, XChaCha20-Poly1305 for cookie replies, and the
 * batch-in-shared-memory interface of @taltun/wasm-crypto for the data plane. Every AEAD
 * use in the engine goes through here, so the backend is chosen in one place.
 * @module
 */
export {
  seal,
  open,
  xseal,
  xopen,
  createSharedMemory,
  compileAeadModule,
  instantiateAead,
  HEAP_BASE,
  SCRATCH_BYTES,
  DESC_SIZE,
  writeDescriptor,
  descriptorOk,
  failDescriptor,
  descriptorLength,
  type AeadInstance as AeadBatch,
} from "@taltun/wasm-crypto";
