/**
 * Test fixture (not part of the package): a network namespace per test file, entered by
 * the test's thread with setns and removed afterwards, failure or not. Names are unique
 * (`tt-shim-<pid>-<n>`); only loopback and 100.64.0.0/10 / 198.18.0.0/15 are used inside.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { WasmMemory } from "./batch.js";
import { netnsEnter, netnsRestore } from "./netns.js";

let counter = 0;

/** Fails (never skips) when the tests cannot run: they need root and /dev/net/tun. */
export function requireRootAndTun(): void {
  if (process.getuid?.() !== 0) throw new Error("io-shim tests need root (they create network namespaces and TUN devices); run them as root");
  if (!existsSync("/dev/net/tun")) throw new Error("io-shim tests need /dev/net/tun (modprobe tun)");
}

/** Runs `ip` with arguments; returns stdout. */
export function ip(...args: string[]): string {
  // Without LD_PRELOAD: under `test:sanitize` it names ASan, which is meant for our library
  // and not for ip(8) (whose own strncpy use ASan flags).
  const { LD_PRELOAD: _, ...env } = process.env;
  return execFileSync("ip", args, { encoding: "utf8", timeout: 10_000, env });
}

/** A namespace the calling thread is inside of until `dispose()`. */
export interface TestNs {
  name: string;
  /** Runs `ip -n <ns> -j ...` and parses the JSON. */
  json<T = unknown>(...args: string[]): T;
  dispose(): void;
}

/** Creates a namespace with loopback up and moves this thread into it. */
export function enterTestNs(): TestNs {
  requireRootAndTun();
  const name = `tt-shim-${process.pid}-${++counter}`;
  ip("netns", "add", name);
  let back = -1;
  try {
    ip("-n", name, "link", "set", "lo", "up");
    back = netnsEnter(name);
  } catch (e) {
    ip("netns", "del", name);
    throw e;
  }
  let disposed = false;
  return {
    name,
    json: <T>(...args: string[]) => JSON.parse(ip("-n", name, "-j", ...args) || "[]") as T,
    dispose() {
      if (disposed) return;
      disposed = true;
      try {
        netnsRestore(back);
      } finally {
        ip("netns", "del", name);
      }
    },
  };
}

/** A fixed-size shared memory like the data plane's. */
export function sharedMemory(): WasmMemory {
  const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { Memory: new (d: object) => WasmMemory } };
  return new wasm.Memory({ initial: 256, maximum: 256, shared: true });
}
