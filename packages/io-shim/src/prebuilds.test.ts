// The prebuilt libraries the package ships: one per target of PREBUILT_TARGETS, each an ELF
// shared object for its machine, all exporting the same functions. The arm64 one cannot run
// here, so it is checked with `file`, `readelf -h` and `nm -D` (binutils reads any ELF).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PREBUILT_TARGETS } from "./load.js";

const lib = (target: string) => fileURLToPath(new URL(`../prebuilds/${target}/libtaltun_io.so`, import.meta.url));
const tool = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });

/** What a library defines for the dynamic linker (`nm -D --defined-only`): "T tt_close", ... sorted. */
function exported(path: string): string[] {
  return tool("nm", ["-D", "--defined-only", path])
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 3)
    .map((f) => `${f[1]} ${f[2]}`)
    .sort();
}

const MACHINE: Record<string, { file: RegExp; readelf: string }> = {
  "linux-x64": { file: /ELF 64-bit LSB shared object, x86-64/, readelf: "Advanced Micro Devices X86-64" },
  "linux-arm64": { file: /ELF 64-bit LSB shared object, ARM aarch64/, readelf: "AArch64" },
};

describe("prebuilt libraries", () => {
  it.each(PREBUILT_TARGETS.map((t) => [t]))("%s is a shared object for its machine", (target) => {
    const path = lib(target);
    expect(existsSync(path), `${path} is missing: run \`make\` in packages/io-shim`).toBe(true);
    expect(tool("file", ["-b", path])).toMatch(MACHINE[target].file);
    const header = tool("readelf", ["-h", path]);
    expect(header).toMatch(/Class:\s+ELF64/);
    expect(header).toMatch(/Type:\s+DYN/);
    expect(header.match(/Machine:\s+(.*)/)?.[1].trim()).toBe(MACHINE[target].readelf);
  });

  it("all export the same functions, and only the tt_ ones", () => {
    const [first, ...rest] = PREBUILT_TARGETS.map((t) => exported(lib(t)));
    expect(first.length).toBeGreaterThan(20);
    for (const symbol of first) expect(symbol).toMatch(/^T tt_\w+$/);
    for (const other of rest) expect(other).toEqual(first);
  });
});
