// The WebAssembly constructors this package's implementation calls, for its own compilation
// without lib "dom". Not shipped: the declarations it ships (dist/index.d.ts) name only the
// types of ../types/webassembly.d.ts, which that file gives its users.
/// <reference path="../types/webassembly.d.ts" />

declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  var Memory: { prototype: Memory; new (descriptor: MemoryDescriptor): Memory };
  var Module: { prototype: Module; new (bytes: Uint8Array<ArrayBuffer>): Module };
  var Instance: { prototype: Instance; new (module: Module, imports?: Record<string, Record<string, unknown>>): Instance };
}
