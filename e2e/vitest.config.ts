import { defineConfig } from "vitest/config";

// The scenarios share the machine's two cores and /var/run/wireguard: one file at a time.
export default defineConfig({
  test: { fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 },
});
