import { defineConfig } from "vitest/config";

// These machines are shared and have two cores: the first test of a file also compiles the
// WebAssembly module and warms up V8, so a test gets 30 s, not vitest's 5 s default.
export default defineConfig({ test: { testTimeout: 30_000, hookTimeout: 30_000 } });
