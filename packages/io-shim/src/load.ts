/**
 * Loading the C library and calling it through ffi-rs.
 *
 * Hot calls reuse one ffi-rs options object per function and change only
 * `paramsValue[0]`: that is ~2-4 µs a call, where a `define()`d wrapper costs 3-4x more
 * (`benchmarks/src/udp-echo.ts` measures both).
 *
 * ffi-rs itself is required lazily, inside {@link loadIoShim}: a worker thread must not
 * load it at all unless the main thread has (the process would crash when the worker
 * exits), so the check has to come before the require.
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import type * as Ffi from "ffi-rs";

/** The ffi-rs library key; the library table is process-wide. */
export const LIBRARY = "taltun_io";

/** ffi-rs DataType values used here (the enum is only reachable after the require). */
export const DataType = { String: 0, I32: 1, U8Array: 10, U64: 12 } as unknown as {
  String: Ffi.DataType.String;
  I32: Ffi.DataType.I32;
  U8Array: Ffi.DataType.U8Array;
  U64: Ffi.DataType.U64;
};
type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** Set to the pid in the environment by the main thread's loadIoShim; workers inherit a
 * copy of the environment when they start, so they see it only if the main thread loaded
 * first (the pid keeps child processes, which inherit it too, from being fooled). */
const MAIN_LOADED_ENV = "TALTUN_IO_SHIM_MAIN_LOADED";

const here = dirname(fileURLToPath(import.meta.url));

/** The prebuilt libraries this package ships (glibc), by `<process.platform>-<process.arch>`:
 * `prebuilds/<target>/libtaltun_io.so`. */
export const PREBUILT_TARGETS: readonly string[] = ["linux-x64", "linux-arm64"];

/**
 * Where the library is looked for: `TALTUN_IO_SHIM_LIB`, else the prebuilt library for this
 * platform and CPU, `prebuilds/<platform>-<arch>/` beside this file's package (this file
 * lives in `src/` or `dist/`).
 * @throws {IoShimLoadError} naming the platform when the package has no library for it
 * (and `TALTUN_IO_SHIM_LIB` is not set), or when it is not Linux at all
 * @example libraryPath(); // ".../@taltun/io-shim/prebuilds/linux-arm64/libtaltun_io.so" on a 64-bit Arm Linux
 */
export function libraryPath(platform: string = process.platform, arch: string = process.arch): string {
  const target = `${platform}-${arch}`;
  const override = process.env.TALTUN_IO_SHIM_LIB;
  const path = override ?? join(here, "..", "prebuilds", target, "libtaltun_io.so");
  if (platform !== "linux") {
    throw new IoShimLoadError(path, new Error(`unsupported platform ${target}: the io-shim (TUN devices, rtnetlink, recvmmsg) works only on Linux`), "");
  }
  if (override === undefined && !PREBUILT_TARGETS.includes(target)) {
    throw new IoShimLoadError(
      path,
      new Error(`no prebuilt library for ${target} (this package has ${PREBUILT_TARGETS.join(" and ")}, for glibc)`),
      "build one for this machine with `make native` in the package's folder and set TALTUN_IO_SHIM_LIB to the build/native/libtaltun_io.so it makes",
    );
  }
  return path;
}

/** Thrown when no library fits this platform, or the library is missing or cannot be loaded. */
export class IoShimLoadError extends Error {
  override readonly name = "IoShimLoadError";
  /** @param fix - what to do about it; by default, how to build the library */
  constructor(readonly path: string, cause: unknown, fix = "build it with `pnpm --filter @taltun/io-shim build` (or reinstall @taltun/io-shim)") {
    super(`cannot load the io-shim library at ${path}: ${cause instanceof Error ? cause.message : String(cause)}${fix ? `; ${fix}` : ""}`);
  }
}

let ffi: typeof Ffi | undefined;

/**
 * Loads ffi-rs and the C library, once per thread. Call it on the main thread before
 * starting workers that use the shim: ffi-rs loaded only in workers crashes the process
 * when a worker exits (seen with ffi-rs 1.3.7 on Node 20), so in a worker it throws, without loading anything,
 * unless the main thread loaded first (workers started with a custom `env` must carry
 * `TALTUN_IO_SHIM_MAIN_LOADED=<pid>`). Every other function of this package calls it.
 *
 * @example
 * loadIoShim(); // main thread, before `new Worker(...)`
 */
export function loadIoShim(): void {
  if (ffi) return;
  const path = libraryPath();
  if (!isMainThread && process.env[MAIN_LOADED_ENV] !== String(process.pid)) {
    throw new Error(
      "io-shim: call loadIoShim() on the main thread before starting workers that use it " +
        "(ffi-rs loaded only in worker threads crashes the process when a worker exits)",
    );
  }
  if (!existsSync(path)) throw new IoShimLoadError(path, new Error("file not found"));
  const lib = createRequire(import.meta.url)("ffi-rs") as typeof Ffi;
  try {
    lib.open({ library: LIBRARY, path });
  } catch (e) {
    throw new IoShimLoadError(path, e);
  }
  if (isMainThread) process.env[MAIN_LOADED_ENV] = String(process.pid);
  ffi = lib;
}

/** A hot entry point: one u64 argument (a control-block address), i32 result. */
export type HotCall = (address: number) => number;

/** Makes a hot call that reuses its options object (`load(opts)`, only the value changes). */
export function hotCall(funcName: string): HotCall {
  const params: number[] = [0];
  const opts = { library: LIBRARY, funcName, retType: DataType.I32, paramsType: [DataType.U64], paramsValue: params };
  return (address: number) => {
    if (!ffi) loadIoShim();
    params[0] = address;
    return ffi!.load(opts) as number;
  };
}

type Arg = { t: DataTypeValue; v: unknown };

/** A slow-path call with several arguments; fine for rare configuration calls. */
export function slowCall(funcName: string, retType: DataTypeValue, args: Arg[]): number {
  loadIoShim();
  return ffi!.load({
    library: LIBRARY,
    funcName,
    retType,
    paramsType: args.map((a) => a.t),
    paramsValue: args.map((a) => a.v),
  }) as number;
}

/** Argument helpers for slowCall. */
export const arg = {
  i32: (v: number): Arg => ({ t: DataType.I32, v }),
  str: (v: string): Arg => ({ t: DataType.String, v }),
  bytes: (v: Uint8Array): Arg => ({ t: DataType.U8Array, v }),
};
