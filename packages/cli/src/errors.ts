/** How the CLI fails: one line on standard error and an exit code the caller can test. */
import { ConfigError } from "@taltun/engine";

/** Exit code of a configuration problem (as with other tools' usage errors). */
export const EXIT_CONFIG = 2;

/** A failure to report as `taltun: <message>` with `exitCode`. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A configuration file that cannot be read or parsed (validation errors are ConfigError). */
export class ConfigFileError extends CliError {
  constructor(message: string) {
    super(message, EXIT_CONFIG);
  }
}

/** The longest error line printed: one line, never a screenful. */
const MAX_LINE = 1000;

function line(text: string): void {
  const one = text.replace(/[\r\n]+/g, " ");
  process.stderr.write(`${one.length > MAX_LINE ? `${one.slice(0, MAX_LINE - 1)}…` : one}\n`);
}

/** Prints an error as the one line users see, and returns the exit code for it. */
export function report(e: unknown): number {
  if (e instanceof ConfigError || e instanceof ConfigFileError) {
    line(`taltun: config error: ${e.message}`);
    return EXIT_CONFIG;
  }
  if (e instanceof CliError) {
    line(`taltun: ${e.message}`);
    return e.exitCode;
  }
  line(`taltun: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

/** Wraps a command's action so any error becomes `report`'s line and exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = report(e);
    }
  };
}
