import { defineConfig } from "vitest/config";

// The tests start the built CLI, namespaces and child processes on a shared 2-core machine.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000 } });
