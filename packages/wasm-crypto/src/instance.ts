// Data-plane API: instances of the AEAD module over a caller's shared memory (RFC 8439
// ChaCha20-Poly1305 and XChaCha20-Poly1305, in place). One instance per worker thread; all
// of them over one memory, each with its own scratch region.
import { compileOnce, type AeadExports } from "./_wasm.js";
import { HEAP_BASE, SCRATCH_BYTES } from "./memory.js";
import { DESC_SIZE, TAG_BYTES } from "./descriptor.js";
import { int, range } from "./_checks.js";

const U32_MAX = 0xffffffff;

/**
 * The compiled AEAD module. Compiled once per thread and cached; a `WebAssembly.Module` can be
 * posted to worker threads, which then instantiate it without compiling again.
 *
 * @example
 * ```ts
 * new Worker(url, { workerData: { module: compileAeadModule(), memory } });
 * ```
 */
export function compileAeadModule(): WebAssembly.Module {
  return compileOnce();
}

/** One instance of the AEAD module over a shared memory. Every pointer is a byte address in it. */
export interface AeadInstance {
  /** The memory this instance works in. */
  readonly memory: WebAssembly.Memory;
  /** Start of this instance's scratch region (SCRATCH_BYTES long). */
  readonly scratchPtr: number;
  /**
   * Seals `count` packets described by the descriptors at `descPtr` (see DESC_SIZE), in place:
   * ciphertext over the plaintext, the 16-byte tag after it, status 1. A descriptor whose key
   * or data lies outside usable memory or overlaps this instance's scratch gets status 0.
   */
  sealBatch(descPtr: number, count: number): void;
  /**
   * Opens `count` packets in place and returns how many authenticated. Status 1: plaintext at
   * DESC_DATA (length - 16 bytes). Status 0: the packet was not authentic and is untouched.
   */
  openBatch(descPtr: number, count: number): number;
  /** Seals `length` bytes at `dataPtr` in place (tag at dataPtr+length); 12-byte nonce at `noncePtr`. */
  seal(keyPtr: number, noncePtr: number, dataPtr: number, length: number, aadPtr?: number, aadLength?: number): void;
  /** Opens `sealedLength` bytes at `dataPtr` in place; true when authentic (data untouched otherwise). */
  open(keyPtr: number, noncePtr: number, dataPtr: number, sealedLength: number, aadPtr?: number, aadLength?: number): boolean;
  /** XChaCha20-Poly1305 seal; 24-byte nonce at `noncePtr`. */
  xseal(keyPtr: number, noncePtr: number, dataPtr: number, length: number, aadPtr?: number, aadLength?: number): void;
  /** XChaCha20-Poly1305 open; 24-byte nonce at `noncePtr`. */
  xopen(keyPtr: number, noncePtr: number, dataPtr: number, sealedLength: number, aadPtr?: number, aadLength?: number): boolean;
  /** The module's raw exports (no checks): for tests and benchmarks. */
  readonly raw: AeadExports;
}

class Instance implements AeadInstance {
  readonly raw: AeadExports;
  constructor(readonly memory: WebAssembly.Memory, readonly scratchPtr: number, module: WebAssembly.Module) {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.raw = instance.exports as unknown as AeadExports;
    this.raw.init(scratchPtr);
  }

  // Checks the caller's region and that it stays clear of this instance's scratch.
  private region(name: string, ptr: number, len: number): void {
    int(name, ptr, 0, U32_MAX);
    range(name, ptr, len, HEAP_BASE, this.memory.buffer.byteLength);
    if (len > 0 && ptr < this.scratchPtr + SCRATCH_BYTES && ptr + len > this.scratchPtr) {
      throw new TypeError(`${name} range [${ptr}, ${ptr + len}) overlaps this instance's scratch`);
    }
  }

  // Descriptor array: checked once per call; the module checks each descriptor's pointers.
  private batch(descPtr: number, count: number): void {
    int("count", count, 0, U32_MAX);
    int("descPtr", descPtr, 0, U32_MAX);
    if (descPtr % 4 !== 0) throw new TypeError(`descPtr must be 4-byte aligned, got ${descPtr}`);
    this.region("descPtr", descPtr, count * DESC_SIZE);
  }

  private single(keyPtr: number, noncePtr: number, nonceLen: number, dataPtr: number, len: number, aadPtr: number, aadLen: number): void {
    this.region("keyPtr", keyPtr, 32);
    this.region("noncePtr", noncePtr, nonceLen);
    int("aadLength", aadLen, 0, U32_MAX);
    if (aadLen > 0) this.region("aadPtr", aadPtr, aadLen);
    this.region("dataPtr", dataPtr, len);
  }

  sealBatch(descPtr: number, count: number): void {
    this.batch(descPtr, count);
    this.raw.sealBatch(descPtr, count);
  }

  openBatch(descPtr: number, count: number): number {
    this.batch(descPtr, count);
    return this.raw.openBatch(descPtr, count);
  }

  seal(keyPtr: number, noncePtr: number, dataPtr: number, length: number, aadPtr = 0, aadLength = 0): void {
    int("length", length, 0, U32_MAX - TAG_BYTES);
    this.single(keyPtr, noncePtr, 12, dataPtr, length + TAG_BYTES, aadPtr, aadLength);
    this.raw.seal(keyPtr, noncePtr, dataPtr, length, aadPtr, aadLength);
  }

  open(keyPtr: number, noncePtr: number, dataPtr: number, sealedLength: number, aadPtr = 0, aadLength = 0): boolean {
    int("sealedLength", sealedLength, 0, U32_MAX);
    this.single(keyPtr, noncePtr, 12, dataPtr, sealedLength, aadPtr, aadLength);
    return this.raw.open(keyPtr, noncePtr, dataPtr, sealedLength, aadPtr, aadLength) === 1;
  }

  xseal(keyPtr: number, noncePtr: number, dataPtr: number, length: number, aadPtr = 0, aadLength = 0): void {
    int("length", length, 0, U32_MAX - TAG_BYTES);
    this.single(keyPtr, noncePtr, 24, dataPtr, length + TAG_BYTES, aadPtr, aadLength);
    this.raw.xseal(keyPtr, noncePtr, dataPtr, length, aadPtr, aadLength);
  }

  xopen(keyPtr: number, noncePtr: number, dataPtr: number, sealedLength: number, aadPtr = 0, aadLength = 0): boolean {
    int("sealedLength", sealedLength, 0, U32_MAX);
    this.single(keyPtr, noncePtr, 24, dataPtr, sealedLength, aadPtr, aadLength);
    return this.raw.xopen(keyPtr, noncePtr, dataPtr, sealedLength, aadPtr, aadLength) === 1;
  }
}

/**
 * Instantiates the AEAD module over `memory` (a shared `WebAssembly.Memory`, as made by
 * `createSharedMemory`) with its scratch region at `scratchPtr` (SCRATCH_BYTES bytes, at or
 * above HEAP_BASE, 16-aligned, not used by anything else). Call once per worker thread, each
 * with its own scratch region; pass the module from `compileAeadModule()` to skip compiling.
 *
 * @example
 * ```ts
 * const memory = createSharedMemory();
 * const aead = instantiateAead(memory, HEAP_BASE);           // scratch at HEAP_BASE
 * const descPtr = HEAP_BASE + SCRATCH_BYTES;                 // descriptors, keys, packets above
 * aead.sealBatch(descPtr, 64);
 * ```
 */
export function instantiateAead(memory: WebAssembly.Memory, scratchPtr: number, module?: WebAssembly.Module): AeadInstance {
  const buffer = memory instanceof WebAssembly.Memory ? (memory.buffer as ArrayBufferLike) : undefined;
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new TypeError("memory must be a shared WebAssembly.Memory (see createSharedMemory)");
  }
  int("scratchPtr", scratchPtr, HEAP_BASE, U32_MAX);
  if (scratchPtr % 16 !== 0) throw new TypeError(`scratchPtr must be 16-byte aligned, got ${scratchPtr}`);
  range("scratchPtr", scratchPtr, SCRATCH_BYTES, HEAP_BASE, buffer.byteLength);
  if (module !== undefined && !(module instanceof WebAssembly.Module)) {
    throw new TypeError("module must be a WebAssembly.Module (see compileAeadModule)");
  }
  return new Instance(memory, scratchPtr, module ?? compileOnce());
}
