import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { libraryPath, loadIoShim } from "./load.js";
import { memoryAddress } from "./batch.js";
import { sharedMemory } from "./_netns_fixture.js";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

describe("loader", () => {
  it("loads the library beside the package and learns a memory's address", () => {
    expect(libraryPath()).toBe(process.env.TALTUN_IO_SHIM_LIB ?? fileURLToPath(new URL("../prebuilds/linux-x64/libtaltun_io.so", import.meta.url)));
    loadIoShim();
    loadIoShim(); // idempotent
    const m = sharedMemory();
    const base = memoryAddress(m);
    expect(base).toBeGreaterThan(0);
    expect(memoryAddress(m)).toBe(base);
    expect(memoryAddress(sharedMemory())).not.toBe(base);
    expect(() => memoryAddress(new ArrayBuffer(8) as never)).toThrow(TypeError);
  });

  it("refuses to load in a worker when the main thread has not loaded it", () => {
    const script = `
      const { Worker } = require("node:worker_threads");
      const w = new Worker(\`
        const { parentPort } = require("node:worker_threads");
        import(${JSON.stringify(dist)}).then((s) => {
          try { s.eventfdOpen(); parentPort.postMessage("loaded"); } catch (e) { parentPort.postMessage(e.message); }
        });\`, { eval: true });
      w.on("message", (m) => { console.log(m); w.terminate(); });`;
    // exits normally: the worker refused before loading ffi-rs, so nothing crashes at exit
    const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(out).toContain("call loadIoShim() on the main thread before starting workers");
  });

  it("names the path and the fix when the library is missing", () => {
    const script = `import(${JSON.stringify(dist)}).then((s) => { try { s.eventfdOpen(); } catch (e) { console.log(e.name + ": " + e.message); } })`;
    const out = execFileSync(process.execPath, ["-e", script], {
      encoding: "utf8",
      env: { ...process.env, TALTUN_IO_SHIM_LIB: "/nonexistent/libtaltun_io.so" },
    });
    expect(out).toContain("IoShimLoadError: cannot load the io-shim library at /nonexistent/libtaltun_io.so");
    expect(out).toContain("pnpm --filter @taltun/io-shim build");
  });
});
