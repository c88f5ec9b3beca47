import { defineConfig } from "vitest/config";

// Each test file runs in its own process (forks): the network tests move their thread into
// a namespace with setns, which must not leak into other files.
export default defineConfig({
  test: { pool: "forks", fileParallelism: false, testTimeout: 20_000, hookTimeout: 20_000 },
});
