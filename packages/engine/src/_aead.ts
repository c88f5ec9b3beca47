/**
 * The one door to authenticated encryption in the engine: ChaCha20-Poly1305 (RFC 8439)
 * for handshake fields and transport data, XChaCha20-Poly1305 for cookie replies, and the
 * batch-in-shared-memory interface of @taltun/wasm-crypto for the data plane.
 *
 * TEMPORARY BACKEND: @noble/ciphers, with the exact signatures of @taltun/wasm-crypto,
 * until that package (branch `crypto`) ships its API; then this file re-exports it.
 * @module
 */
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";

/** Size of one batch descriptor: six little-endian u32. */
export const DESC_SIZE = 24;
export const DESC_KEY = 0;
export const DESC_COUNTER_LO = 4;
export const DESC_COUNTER_HI = 8;
export const DESC_DATA = 12;
export const DESC_LENGTH = 16;
export const DESC_STATUS = 20;
/** First byte of linear memory free for the caller (below it: the module's own data). */
export const HEAP_BASE = 1024;
/** Bytes of per-instance scratch the batch functions need. */
export const SCRATCH_BYTES = 256;

/** Seal `plaintext` with a 12-byte nonce; returns ciphertext || 16-byte tag. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Open `sealed` (ciphertext || tag); null when it does not authenticate. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** XChaCha20-Poly1305 seal with a 24-byte nonce. */
export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 open with a 24-byte nonce; null when it does not authenticate. */
export function xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** A shared memory with a fixed maximum, so its buffer never moves. */
export function createSharedMemory(bytes = 64 * 1024 * 1024): WebAssembly.Memory {
  const pages = Math.ceil(bytes / 65536);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Stand-in for the compiled WASM module (the noble backend needs none). */
export function compileAeadModule(): WebAssembly.Module | undefined {
  return undefined;
}

/** Batch AEAD over descriptors in `memory` (see DESC_*). */
export interface AeadBatch {
  sealBatch(descPtr: number, count: number): void;
  openBatch(descPtr: number, count: number): number;
}

/** Batch seal/open in place on `memory`, descriptor semantics of @taltun/wasm-crypto. */
export function instantiateAead(memory: WebAssembly.Memory, _scratchPtr: number, _module?: WebAssembly.Module): AeadBatch {
  const nonce = new Uint8Array(12);
  const nonceView = new DataView(nonce.buffer);
  const run = (descPtr: number, count: number, sealing: boolean): number => {
    const u8 = new Uint8Array(memory.buffer);
    const dv = new DataView(memory.buffer);
    let ok = 0;
    for (let i = 0; i < count; i++) {
      const d = descPtr + i * DESC_SIZE;
      const keyPtr = dv.getUint32(d + DESC_KEY, true);
      nonceView.setUint32(4, dv.getUint32(d + DESC_COUNTER_LO, true), true);
      nonceView.setUint32(8, dv.getUint32(d + DESC_COUNTER_HI, true), true);
      const data = dv.getUint32(d + DESC_DATA, true);
      const len = dv.getUint32(d + DESC_LENGTH, true);
      const key = u8.slice(keyPtr, keyPtr + 32);
      if (sealing) {
        u8.set(seal(key, nonce, u8.slice(data, data + len)), data);
        dv.setUint32(d + DESC_STATUS, 1, true);
        ok++;
      } else {
        const plain = len >= 16 ? open(key, nonce, u8.slice(data, data + len)) : null;
        if (plain) u8.set(plain, data);
        dv.setUint32(d + DESC_STATUS, plain ? 1 : 0, true);
        if (plain) ok++;
      }
    }
    return ok;
  };
  return {
    sealBatch: (descPtr, count) => void run(descPtr, count, true),
    openBatch: (descPtr, count) => run(descPtr, count, false),
  };
}
