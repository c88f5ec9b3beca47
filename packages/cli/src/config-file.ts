/**
 * Reading `taltun up`'s configuration: a TOML file with the Go Taltun's keys, then the
 * command-line flags over it (flags win), then `validateConfig` from the engine.
 */
import { dirname, resolve } from "node:path";
import { FileRefused, type TaltunConfig, readRegularFile, validateConfig } from "@taltun/engine";
import { TomlError, parse } from "smol-toml";
import { ConfigFileError } from "./errors.js";

/**
 * `[interface]` keys that have a flag, by commander's camel-cased option name. There is no
 * `--private-key`: a key on a command line is visible to every user through `ps`.
 */
export const INTERFACE_FLAGS = {
  mode: "mode",
  tunName: "tun_name",
  localAddr: "local_addr",
  listenPort: "listen_port",
  vip: "vip",
  privateKeyFile: "private_key_file",
  mtu: "mtu",
  routes: "routes",
  workers: "workers",
  logLevel: "log_level",
  metricsAddr: "metrics_addr",
} as const;

const NUMERIC = new Set(["listen_port", "mtu", "workers"]);
/** A configuration of 10,000 peers fits in 4 MiB; a larger "configuration" is not one. */
const CONFIG_FILE_MAX_BYTES = 4 << 20;

/** Parses the TOML text of a configuration file; `file` names it in errors. */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    // Only the first line: the rest quotes the file, which may hold a private key.
    const first = e instanceof Error ? e.message.split("\n")[0].replace(/^Invalid TOML document: /, "") : String(e);
    const at = e instanceof TomlError ? `:${e.line}:${e.column}` : "";
    throw new ConfigFileError(`${file}${at}: not valid TOML: ${first}`);
  }
}

/** Puts flag values over the file's `[interface]` keys. */
export function applyFlags(raw: Record<string, unknown>, flags: Record<string, unknown>): Record<string, unknown> {
  const section = raw.interface;
  const iface: Record<string, unknown> = typeof section === "object" && section !== null && !Array.isArray(section) ? { ...section } : {};
  for (const [flag, key] of Object.entries(INTERFACE_FLAGS)) {
    const v = flags[flag];
    if (typeof v !== "string") continue;
    // A number-shaped flag becomes a number; anything else reaches validation as written.
    iface[key] = key === "routes" ? v.split(",").map((r) => r.trim()).filter(Boolean) : NUMERIC.has(key) && /^\d+$/.test(v) ? Number(v) : v;
    if (key === "private_key_file") delete iface.private_key;
  }
  return { ...raw, interface: section === undefined && Object.keys(iface).length === 0 ? undefined : iface };
}

/**
 * Reads, overrides and validates a configuration file.
 * @throws {ConfigFileError} when the file cannot be read or parsed
 * @throws {ConfigError} when a key is missing or wrong
 */
export function loadConfig(file: string, flags: Record<string, unknown>): TaltunConfig {
  let text: string;
  try {
    text = readRegularFile(file, CONFIG_FILE_MAX_BYTES);
  } catch (e) {
    throw new ConfigFileError(`${file}: ${e instanceof FileRefused ? e.reason : String(e)}`);
  }
  const raw = applyFlags(parseToml(text, file), flags);
  return validateConfig(raw, { baseDir: dirname(resolve(file)) });
}
