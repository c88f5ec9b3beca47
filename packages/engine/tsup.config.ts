import { defineConfig } from "tsup";

export default defineConfig({
  // The data-plane worker is its own entry: interface.ts starts it as ./worker.js beside index.js.
  entry: { index: "src/index.ts", worker: "src/dataplane/worker.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
