import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { IoShimLoadError, PREBUILT_TARGETS, libraryPath, loadIoShim } from "./load.js";
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

  it("picks the prebuilt library by platform and CPU, and names the platform when none fits", () => {
    const saved = process.env.TALTUN_IO_SHIM_LIB;
    delete process.env.TALTUN_IO_SHIM_LIB;
    try {
      expect(PREBUILT_TARGETS).toEqual(["linux-x64", "linux-arm64"]);
      for (const arch of ["x64", "arm64"]) {
        expect(libraryPath("linux", arch)).toBe(fileURLToPath(new URL(`../prebuilds/linux-${arch}/libtaltun_io.so`, import.meta.url)));
      }
      expect(() => libraryPath("linux", "riscv64")).toThrow(IoShimLoadError);
      expect(() => libraryPath("linux", "riscv64")).toThrow(/no prebuilt library for linux-riscv64 \(this package has linux-x64 and linux-arm64, for glibc\).*make native/);
      expect(() => libraryPath("darwin", "arm64")).toThrow(/unsupported platform darwin-arm64: .*works only on Linux/);
      // TALTUN_IO_SHIM_LIB serves any Linux CPU, never another system
      process.env.TALTUN_IO_SHIM_LIB = "/opt/lib/libtaltun_io.so";
      expect(libraryPath("linux", "riscv64")).toBe("/opt/lib/libtaltun_io.so");
      expect(() => libraryPath("win32", "x64")).toThrow(/unsupported platform win32-x64/);
    } finally {
      if (saved === undefined) delete process.env.TALTUN_IO_SHIM_LIB;
      else process.env.TALTUN_IO_SHIM_LIB = saved;
    }
  });

  it("refuses to load on a platform it has no library for, naming it, before loading ffi-rs", () => {
    for (const [platform, arch, message] of [
      ["linux", "ppc64", "no prebuilt library for linux-ppc64"],
      ["darwin", "arm64", "unsupported platform darwin-arm64"],
    ]) {
      const script = `
        Object.defineProperty(process, "platform", { value: ${JSON.stringify(platform)} });
        Object.defineProperty(process, "arch", { value: ${JSON.stringify(arch)} });
        import(${JSON.stringify(dist)}).then((s) => {
          try { s.eventfdOpen(); console.log("loaded"); } catch (e) { console.log(e.name + ": " + e.message); }
          console.log("ffi-rs loaded:", Object.keys(require.cache).some((k) => k.includes("ffi-rs")));
        });`;
      const env = { ...process.env };
      delete env.TALTUN_IO_SHIM_LIB;
      const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8", env });
      expect(out).toContain(`IoShimLoadError: cannot load the io-shim library at `);
      expect(out).toContain(message);
      expect(out).toContain("ffi-rs loaded: false");
    }
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
