/**
 * Loading the C library and calling it through ffi-rs.
 *
 * Hot calls reuse one ffi-rs options object per function and change only
 * `paramsValue[0]`: that is ~2 µs a call, where a `define()`d wrapper costs 3-4x more
 * (DESIGN §5; `benchmarks/src/udp-echo.ts` measures both).
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DataType, load, open } from "ffi-rs";

/** The ffi-rs library key; the library table is process-wide. */
export const LIBRARY = "taltun_io";

const here = dirname(fileURLToPath(import.meta.url));

/** Where the library is looked for: `TALTUN_IO_SHIM_LIB`, else `prebuilds/linux-x64/`
 * beside this file's package (this file lives in `src/` or `dist/`). */
export function libraryPath(): string {
  return process.env.TALTUN_IO_SHIM_LIB ?? join(here, "..", "prebuilds", "linux-x64", "libtaltun_io.so");
}

/** Thrown when the shared library is missing or cannot be loaded. */
export class IoShimLoadError extends Error {
  override readonly name = "IoShimLoadError";
  constructor(readonly path: string, cause: unknown) {
    super(
      `cannot load the io-shim library at ${path}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        `build it with \`pnpm --filter @taltun/io-shim build\``,
    );
  }
}

let loaded = false;

/**
 * Loads the C library once per thread. Safe from the main thread and from workers; call it
 * on the main thread before starting workers that use the shim (ffi-rs loaded only in
 * workers crashes the process when a worker exits, DESIGN §5). Every other function of
 * this package calls it for you.
 *
 * @example
 * loadIoShim(); // main thread, before `new Worker(...)`
 */
export function loadIoShim(): void {
  if (loaded) return;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new IoShimLoadError(libraryPath(), new Error(`unsupported platform ${process.platform}-${process.arch}`));
  }
  const path = libraryPath();
  if (!existsSync(path)) throw new IoShimLoadError(path, new Error("file not found"));
  try {
    open({ library: LIBRARY, path });
  } catch (e) {
    throw new IoShimLoadError(path, e);
  }
  loaded = true;
}

/** A hot entry point: one u64 argument (a control-block address), i32 result. */
export type HotCall = (address: number) => number;

/** Makes a hot call that reuses its options object (`load(opts)`, only the value changes). */
export function hotCall(funcName: string): HotCall {
  const params: number[] = [0];
  const opts = { library: LIBRARY, funcName, retType: DataType.I32, paramsType: [DataType.U64], paramsValue: params };
  return (address: number) => {
    loadIoShim();
    params[0] = address;
    return load(opts) as number;
  };
}

type Arg = { t: DataType; v: unknown };

/** A slow-path call with several arguments; fine for rare configuration calls. */
export function slowCall(funcName: string, retType: DataType, args: Arg[]): number {
  loadIoShim();
  return load({
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

export { DataType };
