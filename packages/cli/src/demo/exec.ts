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
  ) {
    super(`\`${command}\` failed: ${stderr.trim().split("\n")[0] || "no output"}`);
  }
}

/** Runs `file args…`, returns its standard output; fails after `timeoutMs`. */
export async function run(file: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  try {
    return (await execFileP(file, args, { encoding: "utf8", timeout: timeoutMs })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; killed?: boolean; message: string };
    throw new CommandError([file, ...args].join(" "), err.killed ? `timed out after ${timeoutMs} ms` : err.stderr || err.message);
  }
}

/** Runs a command inside a network namespace. */
export function inNs(ns: string, file: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  return run("ip", ["netns", "exec", ns, file, ...args], timeoutMs);
}
