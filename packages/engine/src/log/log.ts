/**
 * Logging for the engine: a small `Logger` interface on top of pino, with a one-line text
 * format for people (the default) and pino's JSON lines for machines. Fields named like a
 * private or preshared key are redacted before anything is written.
 * @module
 */
import { pino, type DestinationStream, type Logger as Pino } from "pino";
import { REDACTED } from "../protocol/errors.js";
import type { LogLevel } from "../config/config.js";

/** Structured context of a log line: `{ peer: "AbC…=", endpoint: "198.18.0.2:51820" }`. */
export type LogFields = Record<string, unknown>;

/** What the engine logs through. `trace` is packet-level and off unless asked for. */
export interface Logger {
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Lets a hot path skip building fields for a line that would be dropped. */
  isLevelEnabled(level: Exclude<LogLevel, "silent">): boolean;
  /** A logger that adds `bindings` to every line (e.g. `{ peer }`). */
  child(bindings: LogFields): Logger;
}

/** `text`: `2026-11-25T06:42:30.123Z INFO  handshake done peer=…`; `json`: one object a line. */
export type LogFormat = "text" | "json";

/** Options of `createLogger`. */
export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Where lines go; standard error by default, so standard output stays for data. */
  readonly destination?: { write(line: string): unknown };
}


const SECRET_FIELDS = ["private_key", "preshared_key", "privateKey", "presharedKey"];
// pino's redaction takes explicit paths; three levels cover a logged peer or a whole config.
const REDACT_PATHS = SECRET_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*[*].${k}`, `*[*].${k}`]);

/**
 * Creates a logger.
 * @example
 * const log = createLogger({ level: "debug", format: "json" });
 * log.info("interface up", { tun: "tt0", peers: 2 });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const out = options.destination ?? pino.destination({ dest: 2, sync: true });
  const stream: DestinationStream = format === "json" ? (out as DestinationStream) : { write: (line: string) => out.write(toText(line)) };
  const p = pino(
    {
      level: options.level ?? "info",
      base: null,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return wrap(p);
}

function wrap(p: Pino): Logger {
  const at = (level: "trace" | "debug" | "info" | "warn" | "error") => (msg: string, fields?: LogFields) =>
    fields ? p[level](fields, msg) : p[level](msg);
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    isLevelEnabled: (level) => p.isLevelEnabled(level),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

/**
 * Rewrites one of pino's JSON lines as `time LEVEL msg k=v ...`. Parsing the line back is
 * cheap next to how rarely the control plane logs, and it keeps redaction in one place.
 */
function toText(line: string): string {
  const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
  let text = `${String(time)} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? "")}`;
  for (const [k, v] of Object.entries(fields)) text += ` ${k}=${fieldText(v)}`;
  return text + "\n";
}

function fieldText(v: unknown): string {
  if (typeof v === "string") return /^[^\s"]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}
