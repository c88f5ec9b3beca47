// Running the built CLI as users do, for the tests: a child process, its output and exit code.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The bundle the tests run (`pnpm build` makes it; the test task depends on the build). */
export const CLI = fileURLToPath(new URL("../dist/main.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `taltun args…` with optional standard input; never throws on a non-zero exit. */
export function taltun(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
    if (options.input !== undefined) p.stdin!.end(options.input);
  });
}
