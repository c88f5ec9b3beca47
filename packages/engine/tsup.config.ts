import { defineConfig } from "tsup";

export default defineConfig({
  // The data-plane worker is its own entry: interface.ts starts it as ./worker.js beside index.js.
  entry: { index: "src/index.ts", worker: "src/dataplane/worker.ts" },
  format: ["esm"],
  dts: {
    // Declarations for the package's one export; the worker is internal.
    entry: { index: "src/index.ts" },
    // They name WebAssembly.Memory, which @taltun/wasm-crypto declares for programs
    // compiled without lib "dom" (its types/webassembly.d.ts).
    banner: '/// <reference types="@taltun/wasm-crypto" />',
  },
  clean: true,
  sourcemap: true,
  target: "node20",
});
