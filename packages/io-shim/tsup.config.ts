import { defineConfig } from "tsup";

export default defineConfig({
  // address.ts is its own entry too: the address record codec, free of ffi-rs and node: modules,
  // for code that must not depend on the I/O layer (the engine's pure core).
  entry: ["src/index.ts", "src/address.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
