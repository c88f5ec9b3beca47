/**
 * Readers for the fields of a plain configuration object (parsed TOML, JSON or built in
 * code): each checks one value's type and range and names the key in its error.
 * @module
 */

import { ConfigError, REDACTED } from "../protocol/errors.js";

export { ConfigError, REDACTED };

/** Keys whose values are secrets: they are never printed, in errors or in logs. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(["private_key", "preshared_key", "privateKey", "presharedKey"]);

/** The most characters of a value or key an error shows: a 10 MB value is not echoed. */
export const MAX_SHOWN = 64;

/** Text that may be a key wherever it appears: 32 bytes in base64 (as `wg genkey`) or hex. */
const KEY_LIKE = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=|(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g;

/**
 * `text` made safe to print: anything that looks like a key redacted, and cut to
 * MAX_SHOWN characters, saying how long it was (`length`, when `text` is already a prefix).
 */
export function printable(text: string, length = text.length): string {
  const redacted = text.slice(0, 4 * MAX_SHOWN).replace(KEY_LIKE, REDACTED);
  return length > MAX_SHOWN || redacted.length > MAX_SHOWN ? `${redacted.slice(0, MAX_SHOWN)}… (${length} characters)` : redacted;
}

/** A plain object of one configuration section, with the path that names it in errors. */
export interface Section {
  readonly path: string;
  readonly data: Record<string, unknown>;
}

/** Joins a section path and a key: `"interface" + "mtu"` -> `"interface.mtu"`. Keys are user text: printable. */
export function keyPath(section: string, key: string): string {
  return section ? `${section}.${printable(key)}` : printable(key);
}

/**
 * The printable form of a value: redacted for secret keys (and look-alikes of their names),
 * any key-like text in it redacted, and at most MAX_SHOWN characters.
 */
export function show(key: string, value: unknown): string {
  const last = key.replace(/\[\d+\]$/, "").split(".").pop() ?? key;
  if (value !== undefined && looksSecret(last)) return REDACTED;
  if (value === undefined) return "nothing";
  // A long string is never copied whole: its beginning is all an error shows.
  if (typeof value === "string") return printable(JSON.stringify(value.slice(0, 4 * MAX_SHOWN)), value.length + 2);
  return printable(typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value)));
}

/** Any key that names a secret, including misspellings of one, so a typo cannot leak it. */
function looksSecret(key: string): boolean {
  return SECRET_KEYS.has(key) || (/priv|psk|preshared|secret/i.test(key) && !key.endsWith("_file"));
}

/** Throws a `ConfigError` for `section.key` holding `value`. */
export function fail(section: string, key: string, value: unknown, reason: string): never {
  const k = keyPath(section, key);
  throw new ConfigError(k, show(k, value), reason);
}

/** A section's table, or a clear error when it is something else. */
export function asSection(path: string, value: unknown): Section {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(path, show(path, value), "must be a table");
  }
  return { path, data: value as Record<string, unknown> };
}

/** Rejects keys that are not in `known`, suggesting the closest known one. */
export function rejectUnknown(s: Section, known: readonly string[]): void {
  for (const key of Object.keys(s.data)) {
    if (known.includes(key)) continue;
    const hint = closest(key, known);
    fail(s.path, key, s.data[key], `unknown key${hint ? `; did you mean ${hint}?` : ""}`);
  }
}

/** The known word nearest to `word` by edit distance, if near enough to be a typo. */
export function closest(word: string, known: readonly string[]): string | undefined {
  if (word.length > MAX_SHOWN) return undefined; // no typo is that long, and the distance would cost
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** A string field; `undefined` when absent and not required. */
export function str(s: Section, key: string, required: true): string;
export function str(s: Section, key: string, required?: false): string | undefined;
export function str(s: Section, key: string, required = false): string | undefined {
  const v = s.data[key];
  if (v === undefined) return required ? fail(s.path, key, v, "is required") : undefined;
  if (typeof v !== "string") fail(s.path, key, v, "must be a string");
  return v;
}

/** An integer field within `[min, max]`; `undefined` when absent. */
export function int(s: Section, key: string, min: number, max: number): number | undefined {
  const v = s.data[key];
  if (v === undefined) return undefined;
  // TOML parsers may hand large integers over as bigint.
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) fail(s.path, key, v, "must be an integer");
  if (n < min || n > max) fail(s.path, key, v, `must be ${min}-${max}`);
  return n;
}

/** A list of strings; `undefined` when absent. */
export function strList(s: Section, key: string): string[] | undefined {
  const v = s.data[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail(s.path, key, v, "must be a list of strings, e.g. [\"10.0.0.0/24\"]");
  v.forEach((item, i) => {
    if (typeof item !== "string") fail(s.path, `${key}[${i}]`, item, "must be a string");
  });
  return v as string[];
}

/** Runs a parser on a field's value and turns its error into a `ConfigError` for the key. */
export function parsed<T>(section: string, key: string, value: string, parse: (v: string) => T): T {
  try {
    return parse(value);
  } catch (e) {
    const reason = e instanceof Error ? (e as { reason?: string }).reason ?? e.message : String(e);
    return fail(section, key, value, reason);
  }
}
