import { defineConfig } from "tsup";

export default defineConfig({
  // The data-plane worker is its own entry (runtime/interface.ts starts it as ./worker.js beside
  // index.js); core.ts is the pure core, published as @taltun/engine/protocol.
  entry: { index: "src/index.ts", core: "src/core.ts", worker: "src/dataplane/worker.ts" },
  format: ["esm"],
  dts: {
    // Declarations for the package's two exports; the worker is internal.
    entry: { index: "src/index.ts", core: "src/core.ts" },
    // They name WebAssembly.Memory, which @taltun/wasm-crypto declares for programs
    // compiled without lib "dom" (its types/webassembly.d.ts).
    banner: '/// <reference types="@taltun/wasm-crypto" />',
  },
  clean: true,
  sourcemap: true,
  target: "node20",
});
