import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // The declarations name WebAssembly.Memory and WebAssembly.Module, which TypeScript
  // declares only in lib "dom": types/webassembly.d.ts (shipped) declares them for users
  // who compile without it, and merges with lib.dom for those who compile with it.
  dts: { banner: '/// <reference path="../types/webassembly.d.ts" />' },
  clean: true,
  sourcemap: true,
  target: "node20",
});
