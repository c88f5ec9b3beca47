/**
 * The demo's child processes (`taltun up` in each namespace, iperf3): started with their
 * output in a log file, remembered by pid, and stopped by that pid only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { Cleanup } from "./cleanup.js";

/** A started child and the file that holds its output. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Settles with the exit code (or signal name) when the child exits. */
  readonly exited: Promise<number | string>;
}

/** Starts `argv` inside `ns` and registers its stop in `cleanup`. */
export function startInNs(name: string, ns: string, argv: readonly string[], logFile: string, cleanup: Cleanup): Child {
  const fd = openSync(logFile, "a", 0o600);
  // `ip netns exec` execs the command in place, so the pid we hold is the command's own.
  const p = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  if (p.pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<number | string>((resolve) => p.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  const child: Child = { name, process: p, pid: p.pid, logFile, exited };
  cleanup.defer(`stop ${name} (pid ${p.pid})`, () => stopChild(child));
  return child;
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGTERM");
  const timer = new Promise<"late">((r) => setTimeout(() => r("late"), graceMs).unref());
  if ((await Promise.race([child.exited, timer])) === "late") {
    child.process.kill("SIGKILL");
    await child.exited;
  }
}

/** The last lines of a child's log, to show when it failed. */
export function logTail(child: Child, lines = 5): string {
  try {
    return readFileSync(child.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
