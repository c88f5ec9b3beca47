/**
 * Pid files of running interfaces, `/var/run/taltun/<iface>.pid`: `up` writes one, `down`
 * reads it and stops that process, after checking it still is a `taltun up` (a pid can be
 * reused by an unrelated process once ours has exited).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where pid files live; `TALTUN_RUN_DIR` moves them (tests, unprivileged use). */
export function runDir(): string {
  return process.env.TALTUN_RUN_DIR ?? "/var/run/taltun";
}

/** The pid file of an interface. */
export function pidFilePath(iface: string): string {
  return join(runDir(), `${iface}.pid`);
}

/** Writes this process's pid for `iface`. */
export function writePidFile(iface: string): string {
  const path = pidFilePath(iface);
  mkdirSync(runDir(), { recursive: true, mode: 0o755 });
  writeFileSync(path, `${process.pid}\n`, { mode: 0o644 });
  return path;
}

/** Removes the pid file of `iface` if it names this process. */
export function removeOwnPidFile(iface: string): void {
  if (readPidFile(iface) === process.pid) rmSync(pidFilePath(iface), { force: true });
}

/** The pid recorded for `iface`, or null when there is no (readable) pid file. */
export function readPidFile(iface: string): number | null {
  try {
    const pid = Number(readFileSync(pidFilePath(iface), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True when `pid` is a live `taltun up` for `iface`: its command line has `up` and a
 * taltun entry point (`taltun`, `…/cli/dist/main.js`, `scripts/taltun.mjs`).
 */
export function isTaltunUp(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  const entry = argv.some((a) => /taltun/.test(a) || /cli\/dist\/main\.js$/.test(a));
  return entry && argv.includes("up");
}
