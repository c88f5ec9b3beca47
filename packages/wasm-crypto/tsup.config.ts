import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // WebAssembly's types live in TypeScript's lib.dom (@types/node 20 has none): the banner
  // keeps them visible to users of dist/index.d.ts whatever their own "lib" setting.
  dts: { banner: '/// <reference lib="dom" />' },
  clean: true,
  sourcemap: true,
  target: "node20",
});
