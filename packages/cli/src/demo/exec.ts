/** Running the system tools the demo drives (`ip`, `sysctl`, `ping`), bounded in time. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

/** A tool that failed; `stderr` is its own explanation. */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly stdout = "",
  ) {
    super(`\`${command}\` failed: ${stderr.trim().split("\n")[0] || "no output"}`);
  }
}

/**
 * Runs `file args…`, returns its standard output; fails after `timeoutMs`. With `signal`,
 * an abort kills it (for measurements; commands that create things are left to finish so
 * that what they create gets registered for cleanup).
 */
export async function run(file: string, args: readonly string[], timeoutMs = 10_000, signal?: AbortSignal): Promise<string> {
  signal?.throwIfAborted();
  try {
    return (await execFileP(file, args, { encoding: "utf8", timeout: timeoutMs, signal })).stdout;
  } catch (e) {
    signal?.throwIfAborted();
    const err = e as { stdout?: string; stderr?: string; killed?: boolean; message: string };
    throw new CommandError([file, ...args].join(" "), err.killed ? `timed out after ${timeoutMs} ms` : err.stderr || err.message, err.stdout);
  }
}

/** Runs a command inside a network namespace. */
export function inNs(ns: string, file: string, args: readonly string[], timeoutMs?: number, signal?: AbortSignal): Promise<string> {
  return run("ip", ["netns", "exec", ns, file, ...args], timeoutMs, signal);
}
