/**
 * Logging for the engine: a small `Logger` interface on top of pino, with a one-line text
 * format for people (the default) and pino's JSON lines for machines. Fields named like a
 * private or preshared key are redacted before anything is written.
 *
 * The text never holds a terminal escape (colour or otherwise), whatever standard error
 * is: control characters in a message or value are written escaped, so a line stays one
 * line and a log file or the journal shows what was logged. Under systemd, when standard
 * error is the journal (`JOURNAL_STREAM`), each line starts with its syslog priority
 * (`<6>`, which journald takes off and keeps as PRIORITY) and no time: the journal stamps
 * every line itself.
 * @module
 */
import { fstatSync } from "node:fs";
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
  /**
   * Lines for systemd's journal: the syslog priority first (`<6>`), no time. Default: when
   * no `destination` is given and standard error is the journal ({@link stderrIsJournal}).
   */
  readonly journald?: boolean;
}

/**
 * Whether standard error is a stream into systemd's journal: systemd sets `JOURNAL_STREAM`
 * to the device and inode of that stream (`dev:ino`) for a service whose output it sends
 * there. Inherited by a child whose standard error goes elsewhere, it no longer matches.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

/** syslog priorities (RFC 5424) of pino's level labels. */
const PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };


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
  const journald = options.journald ?? (options.destination === undefined && stderrIsJournal());
  const out = options.destination ?? pino.destination({ dest: 2, sync: true });
  const stream: DestinationStream =
    format === "json" && !journald
      ? (out as DestinationStream)
      : { write: (line: string) => out.write(format === "json" ? withPriority(line) : toText(line, journald)) };
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
 * Rewrites one of pino's JSON lines as `time LEVEL msg k=v ...` (for the journal:
 * `<priority>LEVEL msg k=v ...`). Parsing the line back is cheap next to how rarely the
 * control plane logs, and it keeps redaction in one place.
 */
function toText(line: string, journald: boolean): string {
  const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const label = String(level);
  let text = `${journald ? `<${PRIORITY[label] ?? 6}>` : `${String(time)} `}${label.toUpperCase().padEnd(5)} ${escapeControls(String(msg ?? ""))}`;
  for (const [k, v] of Object.entries(fields)) text += ` ${escapeControls(k)}=${fieldText(v)}`;
  return text + "\n";
}

/** A JSON line with its syslog priority in front, for the journal. */
function withPriority(line: string): string {
  const { level } = JSON.parse(line) as { level?: unknown };
  return `<${PRIORITY[String(level)] ?? 6}>${line.endsWith("\n") ? line : `${line}\n`}`;
}

// Every C0 and C1 control character (ESC among them), DEL, and the Unicode line breaks.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- the same, without the global flag's state, for test()
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Text with its control characters written as `\u001b`: no escape sequence, no second line. */
function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function fieldText(v: unknown): string {
  if (typeof v === "string") return /^[^\s"]+$/.test(v) && !HAS_CONTROL.test(v) ? v : escapeControls(JSON.stringify(v));
  return escapeControls(JSON.stringify(v) ?? String(v));
}
