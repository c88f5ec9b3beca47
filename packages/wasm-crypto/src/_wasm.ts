// Finds, compiles and types the WebAssembly module built from assembly/ (build/aead.wasm).
// The path is resolved from this file, which sits one level under the package root both
// as source (src/) and bundled (dist/), so tests and the published package find it alike.
import { readFileSync } from "node:fs";

/** The module's exports: every pointer is an address in the imported shared memory. */
export interface AeadExports {
  init(scratchPtr: number): void;
  seal(key: number, nonce: number, data: number, len: number, aad: number, aadLen: number): void;
  open(key: number, nonce: number, data: number, sealedLen: number, aad: number, aadLen: number): number;
  xseal(key: number, nonce: number, data: number, len: number, aad: number, aadLen: number): void;
  xopen(key: number, nonce: number, data: number, sealedLen: number, aad: number, aadLen: number): number;
  sealRef(key: number, nonce: number, data: number, len: number, aad: number, aadLen: number): void;
  openRef(key: number, nonce: number, data: number, sealedLen: number, aad: number, aadLen: number): number;
  hchacha20(key: number, nonce16: number, out: number): void;
  zeroize(ptr: number, len: number): void;
  sealBatch(desc: number, count: number): void;
  openBatch(desc: number, count: number): number;
  /** Test export: sealBatch with packet i's first nonce word read from the u32 array at n0s. */
  sealBatchNonce(desc: number, count: number, n0s: number): void;
  /** Test export: openBatch with first nonce words from n0s. */
  openBatchNonce(desc: number, count: number, n0s: number): number;
}

let compiled: WebAssembly.Module | undefined;

/** The bytes of build/aead.wasm. */
export function wasmBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(new URL("../build/aead.wasm", import.meta.url)));
}

/** Compiles the module once per thread (synchronously) and hands out the same object after. */
export function compileOnce(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(wasmBytes());
  return compiled;
}
