import { defineConfig } from "vitest/config";

// The tests start the built CLI, namespaces and child processes on a shared 2-core machine:
// one file at a time, so that the demo tests do not compete for it (or see each other's).
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false } });
