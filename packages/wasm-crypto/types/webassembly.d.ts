// WebAssembly's JavaScript API as global types, for the declarations of @taltun/wasm-crypto
// and @taltun/engine (they name WebAssembly.Memory and WebAssembly.Module). TypeScript
// declares the WebAssembly namespace only in its "dom" library, and @types/node 20 not at
// all; these packages must not make their users compile with the DOM library. Types only,
// and only what the packages' declarations name: no values, so nothing here pretends a
// global exists that a program's own lib setting does not declare.
//
// They merge with lib "dom" and with other packages' partial declarations (esbuild's
// declares an empty WebAssembly.Module): Memory gets its members by extending a shape that
// lib.dom's Memory satisfies, so no member is ever declared twice with two types.
export {};

/** What a WebAssembly.Memory is to these packages. */
interface TaltunWasmMemory {
  /** The memory's bytes: a SharedArrayBuffer for a shared memory (the kind these packages use). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows the memory by `delta` 64 KiB pages; returns its previous size in pages. */
  grow(delta: number): number;
}

declare global {
  namespace WebAssembly {
    /** A WebAssembly linear memory, e.g. from createSharedMemory(). */
    interface Memory extends TaltunWasmMemory {}
    /** A compiled WebAssembly module, e.g. from compileAeadModule(); it can be posted to worker threads. */
    interface Module {}
  }
}
