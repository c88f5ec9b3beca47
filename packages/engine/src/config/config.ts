/**
 * The Taltun configuration: its typed form, and its validation from a plain object (parsed
 * TOML, JSON, or built in code) with the Go Taltun's keys, so the engine can be used
 * without the CLI. Every error is a `ConfigError` naming the key, the value (secrets
 * redacted) and the reason.
 * @module
 */
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import {
  ConfigError, asSection, fail, int, keyPath, parsed, rejectUnknown, show, str, strList, type Section, printable,
} from "./fields.js";
import { FileRefused, readRegularFile } from "./file.js";
import { KeyFormatError, encodeKey, keysEqual, parseKey, publicKeyFrom } from "../protocol/keys.js";
import { type HostPort, type IpNet, formatIpNet, ipNetContains, parseHostPort, parseIp, parseIpNet, ipFamily } from "../protocol/address.js";

export { ConfigError } from "./fields.js";

/** How much the engine logs; `trace` adds packet-level lines. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "silent"];

/** The `[interface]` section, validated. */
export interface InterfaceConfig {
  /** `server` listens for the spokes it knows by key; `client` dials its peers' endpoints. */
  readonly mode: "server" | "client";
  /** The TUN device's name, also the UAPI socket's: `/var/run/wireguard/<tunName>.sock`. */
  readonly tunName: string;
  /** The UDP address to bind (numeric); port 0 lets the kernel choose (clients only). */
  readonly localAddr: HostPort;
  /** The interface's own address with its prefix (`100.64.0.1/24`). */
  readonly vip: IpNet;
  readonly privateKey: Uint8Array;
  /** Derived from `privateKey`. */
  readonly publicKey: Uint8Array;
  readonly mtu: number;
  /** Extra prefixes routed into the tunnel (subnets behind peers). */
  readonly routes: readonly IpNet[];
  /** Data-plane worker threads, one per core by default. */
  readonly workers: number;
  readonly logLevel: LogLevel;
  /** Where the Prometheus metrics are served over HTTP (numeric, loopback unless given); null: not served. */
  readonly metricsAddr: HostPort | null;
}

/** One `[[peers]]` entry, validated. */
export interface PeerConfig {
  /** The peer's own tunnel address, a single host (/32 or /128). */
  readonly vip: IpNet;
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | null;
  /** `host:port` as written (the host may be a name: see `resolveEndpoint`); null if none. */
  readonly endpoint: string | null;
  /** What the peer may send from and is routed to; the `vip` comes first. */
  readonly allowedIps: readonly IpNet[];
  /** Seconds between keepalives when idle; 0 is off. */
  readonly persistentKeepalive: number;
  /** A name for people (metrics label, `--check`), 1-64 printable characters; null if none. */
  readonly name: string | null;
}

/** A whole validated configuration. */
export interface TaltunConfig {
  readonly interface: InterfaceConfig;
  readonly peers: readonly PeerConfig[];
}

/** Options of `validateConfig`. */
export interface ValidateOptions {
  /** Directory that a relative `private_key_file` is relative to (the config file's). */
  readonly baseDir?: string;
}

/** Keys of the `[interface]` section, in the Go Taltun's names. */
export const INTERFACE_KEYS = [
  "mode", "tun_name", "local_addr", "listen_port", "vip", "private_key", "private_key_file",
  "mtu", "routes", "workers", "log_level", "metrics_addr",
] as const;
/** Keys of a `[[peers]]` entry. */
export const PEER_KEYS = ["vip", "public_key", "preshared_key", "endpoint", "allowed_ips", "persistent_keepalive", "name"] as const;

/** Default MTU: a 1500-byte underlay minus WireGuard's IPv6 overhead (40 + 8 + 32). */
export const DEFAULT_MTU = 1420;
const OVERHEAD = 80;
/**
 * The largest tunnel MTU: the largest IP packet (65535) less WireGuard's worst-case
 * overhead (IPv6 40 + UDP 8 + 32). Its datagrams fit a UDP payload over IPv4 and IPv6
 * (fragmented below the tunnel when the underlay's MTU is smaller); e2e/src/mtu.test.ts
 * carries pings and TCP at it.
 */
export const MAX_MTU = 65535 - OVERHEAD;

/**
 * Validates a plain configuration object and returns its typed form.
 * @throws {ConfigError} for the first problem found
 * @example
 * validateConfig({ interface: { mode: "server", tun_name: "tt0", local_addr: "0.0.0.0:51820",
 *   vip: "100.64.0.1/24", private_key: "…" }, peers: [{ vip: "100.64.0.2", public_key: "…" }] })
 */
export function validateConfig(raw: unknown, options: ValidateOptions = {}): TaltunConfig {
  const root = asSection("", raw);
  rejectUnknown({ path: "", data: root.data }, ["interface", "peers"]);
  const iface = validateInterface(asSection("interface", root.data.interface ?? fail("", "interface", undefined, "is required")), options);
  const peersRaw = root.data.peers ?? [];
  if (!Array.isArray(peersRaw)) fail("", "peers", peersRaw, "must be a list of [[peers]] tables");
  const peers = peersRaw.map((p, i) => validatePeer(asSection(`peers[${i}]`, p), iface));
  checkPeersTogether(iface, peers);
  const ipv6 = [iface.vip, ...peers.flatMap((p) => p.allowedIps)].some((n) => n.family === 6);
  const minMtu = ipv6 ? 1280 : 576;
  if (iface.mtu < minMtu) {
    fail("interface", "mtu", iface.mtu, `must be at least ${minMtu}${ipv6 ? " when IPv6 is used" : ""}`);
  }
  return { interface: iface, peers };
}

function validateInterface(s: Section, options: ValidateOptions): InterfaceConfig {
  rejectUnknown(s, INTERFACE_KEYS);
  const mode = str(s, "mode", true);
  if (mode !== "server" && mode !== "client") fail(s.path, "mode", mode, 'must be "server" or "client"');
  const tunName = str(s, "tun_name", true);
  // Linux limits names to IFNAMSIZ-1 bytes; the name is also a file name (the UAPI socket).
  if (tunName.length === 0 || tunName.length > 15) fail(s.path, "tun_name", tunName, "must be 1-15 characters");
  if (!/^[A-Za-z0-9_.=+-]+$/.test(tunName) || tunName === "." || tunName === "..") {
    fail(s.path, "tun_name", tunName, "may hold only letters, digits and _ . = + -");
  }
  const localAddr = validateLocalAddr(s, mode);
  const vip = parsed(s.path, "vip", str(s, "vip", true), (v) => parseIpNet(v, "keep"));
  const privateKey = readPrivateKey(s, options);
  const mtu = int(s, "mtu", 576, MAX_MTU) ?? DEFAULT_MTU;
  const routes = (strList(s, "routes") ?? []).map((r, i) =>
    parsed(s.path, `routes[${i}]`, r, (v) => parseIpNet(v, "reject")),
  );
  const workers = int(s, "workers", 1, 256) ?? Math.min(availableParallelism(), 256);
  const level = str(s, "log_level") ?? "info";
  if (!LOG_LEVELS.includes(level as LogLevel)) fail(s.path, "log_level", level, `must be one of ${LOG_LEVELS.join(", ")}`);
  const metricsText = str(s, "metrics_addr");
  const metricsAddr = metricsText === undefined ? null : parsed(s.path, "metrics_addr", metricsText, parseMetricsAddr);
  return {
    mode, tunName, localAddr, vip, privateKey, publicKey: publicKeyFrom(privateKey), mtu, routes, workers,
    logLevel: level as LogLevel, metricsAddr,
  };
}

/** Where the metrics go when `metrics_addr` names only a port: this host's own loopback. */
export const METRICS_DEFAULT_HOST = "127.0.0.1";

/**
 * `metrics_addr` (and `TALTUN_METRICS_ADDR` of `taltun-wg`): `ip:port` or `[v6]:port`,
 * numeric, or only a port (`9586` or `:9586`), which binds loopback (127.0.0.1). Any other
 * address, `0.0.0.0` included, is bound only because it was written out.
 * @throws {Error} with the reason
 * @example parseMetricsAddr("9586") // { host: "127.0.0.1", port: 9586 }
 */
export function parseMetricsAddr(text: string): HostPort {
  const portOnly = /^:?(\d{1,5})$/.exec(text);
  const hp = portOnly ? { host: METRICS_DEFAULT_HOST, port: Number(portOnly[1]) } : parseHostPort(text, 1);
  if (hp.port < 1 || hp.port > 65535) throw new Error("port must be 1-65535");
  if (!ipFamily(hp.host)) throw new Error("must be a numeric address, e.g. 127.0.0.1:9586, [::1]:9586, or a port alone for loopback");
  return hp;
}

/** Whether `host` (numeric) is a loopback address: 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const family = ipFamily(host);
  if (family === 4) return host.startsWith("127.");
  if (family === 6) return parseIp(host).every((b, i) => b === (i === 15 ? 1 : 0));
  return false;
}

/** `local_addr` (`ip[:port]`) and `listen_port` together: a server needs a fixed port. */
function validateLocalAddr(s: Section, mode: "server" | "client"): HostPort {
  const text = str(s, "local_addr") ?? (mode === "client" ? "0.0.0.0:0" : fail(s.path, "local_addr", undefined, 'is required for a server, e.g. "0.0.0.0:51820"'));
  const hp = parsed(s.path, "local_addr", text, parseLocalAddr);
  const listenPort = int(s, "listen_port", 1, 65535);
  if (listenPort !== undefined && hp.port !== 0 && hp.port !== listenPort) {
    fail(s.path, "listen_port", listenPort, `conflicts with the port of local_addr (${hp.port}); set one of them`);
  }
  const port = listenPort ?? hp.port;
  if (mode === "server" && port === 0) {
    fail(s.path, "local_addr", text, "a server needs a fixed port for its spokes to dial, e.g. 0.0.0.0:51820");
  }
  return { host: hp.host, port };
}

/** `ip:port`, `[v6]:port` or a bare address (port 0); the address must be numeric to bind. */
function parseLocalAddr(text: string): HostPort {
  const bare = ipFamily(text) ? { host: text, port: 0 } : null;
  const hp = bare ?? parseHostPort(text, 0);
  if (!ipFamily(hp.host)) throw new Error("must be a numeric address to bind, e.g. 0.0.0.0:51820 or [::]:51820");
  return hp;
}

/** A key file holds 44 characters and a newline; comments or a hex key make it longer, not this long. */
const KEY_FILE_MAX_BYTES = 4096;

/** `private_key`, or `private_key_file` if only readable by its owner. */
function readPrivateKey(s: Section, options: ValidateOptions): Uint8Array {
  const inline = str(s, "private_key");
  const file = str(s, "private_key_file");
  if (inline !== undefined && file !== undefined) fail(s.path, "private_key_file", file, "set only one of private_key and private_key_file");
  if (inline !== undefined) return parsed(s.path, "private_key", inline, (v) => parseKey(v, "private_key"));
  if (file === undefined) fail(s.path, "private_key", undefined, "is required (or private_key_file); create one with `taltun genkey`");
  const path = isAbsolute(file) || !options.baseDir ? file : resolve(options.baseDir, file);
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    // Like ssh with its keys: a secret others can read is no longer a secret.
    if (mode & 0o077) {
      fail(s.path, "private_key_file", file, `is readable by group or others (mode ${mode.toString(8).padStart(4, "0")}); run chmod 600 ${printable(path)}`);
    }
    text = readRegularFile(path, KEY_FILE_MAX_BYTES);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return fail(s.path, "private_key_file", file, e instanceof FileRefused ? e.reason : `cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseKey(text, "private_key_file");
  } catch (e) {
    return fail(s.path, "private_key_file", file, `does not hold a key: ${(e as KeyFormatError).reason}`);
  }
}

function validatePeer(s: Section, iface: InterfaceConfig): PeerConfig {
  rejectUnknown(s, PEER_KEYS);
  const vip = parsed(s.path, "vip", str(s, "vip", true), (v) => parseIpNet(v, "keep"));
  if (vip.prefix !== (vip.family === 4 ? 32 : 128)) {
    fail(s.path, "vip", formatIpNet(vip), `a peer's vip is one address, e.g. "${vip.address}"; put subnets in allowed_ips`);
  }
  const publicKey = parsed(s.path, "public_key", str(s, "public_key", true), (v) => parseKey(v, "public_key"));
  const psk = str(s, "preshared_key");
  const presharedKey = psk === undefined ? null : parsed(s.path, "preshared_key", psk, (v) => parseKey(v, "preshared_key"));
  const endpoint = str(s, "endpoint") ?? null;
  if (endpoint !== null) parsed(s.path, "endpoint", endpoint, (v) => parseHostPort(v));
  if (iface.mode === "client" && endpoint === null) {
    fail(s.path, "endpoint", undefined, 'is required in client mode: the address to dial, e.g. "198.18.0.1:51820"');
  }
  const listed = (strList(s, "allowed_ips") ?? []).map((a, i) =>
    parsed(s.path, `allowed_ips[${i}]`, a, (v) => parseIpNet(v, "reject")),
  );
  const persistentKeepalive = int(s, "persistent_keepalive", 0, 65535) ?? 0;
  const name = validatePeerName(s);
  // The vip is implicitly allowed, unless a listed prefix already covers it.
  const covered = listed.some((n) => n.family === vip.family && n.prefix === vip.prefix && n.address === vip.address);
  return { vip, publicKey, presharedKey, endpoint, allowedIps: covered ? listed : [vip, ...listed], persistentKeepalive, name };
}

/** The most characters (code points) a peer's `name` may have. */
export const MAX_PEER_NAME = 64;

/**
 * A peer's optional `name`: 1-64 characters, none of them a control, format (bidi
 * overrides, zero-width) or line/paragraph separator character, so it prints on one line
 * as written wherever it shows (a metrics label, a terminal).
 */
function validatePeerName(s: Section): string | null {
  const name = str(s, "name");
  if (name === undefined) return null;
  const length = [...name.slice(0, 4 * MAX_PEER_NAME)].length;
  if (length === 0 || length > MAX_PEER_NAME) fail(s.path, "name", name, `must be 1-${MAX_PEER_NAME} characters`);
  if (/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u.test(name)) fail(s.path, "name", name, "may not hold control, format or line-break characters");
  return name;
}

/** Rules across peers: distinct keys, not our own, and no allowed IP routed to two peers. */
function checkPeersTogether(iface: InterfaceConfig, peers: readonly PeerConfig[]): void {
  peers.forEach((p, i) => {
    const k = keyPath(`peers[${i}]`, "public_key");
    if (keysEqual(p.publicKey, iface.publicKey)) throw new ConfigError(k, show(k, encodeKey(p.publicKey)), "is this interface's own public key");
    const j = peers.findIndex((q) => keysEqual(q.publicKey, p.publicKey));
    if (j < i) throw new ConfigError(k, show(k, encodeKey(p.publicKey)), `duplicates peers[${j}].public_key`);
  });
  findOverlap(peers);
}

/**
 * Sorted by address then prefix length, a prefix that contains others comes right before
 * them, so one pass with a stack of open prefixes finds every overlap in O(n log n).
 */
function findOverlap(peers: readonly PeerConfig[]): void {
  interface Item { net: IpNet; peer: number; index: number; implicit: boolean }
  const items: Item[] = peers.flatMap((p, peer) => {
    const implicit = p.allowedIps[0] === p.vip;
    return p.allowedIps.map((net, k) => ({ net, peer, index: implicit ? k - 1 : k, implicit: implicit && k === 0 }));
  });
  const cmp = (a: Item, b: Item) =>
    a.net.family - b.net.family || Buffer.compare(a.net.bytes, b.net.bytes) || a.net.prefix - b.net.prefix;
  items.sort(cmp);
  const stack: Item[] = [];
  for (const it of items) {
    while (stack.length && !ipNetContains(stack[stack.length - 1].net, it.net)) stack.pop();
    const top = stack[stack.length - 1];
    if (top && top.peer !== it.peer) {
      const [a, b] = top.peer < it.peer ? [top, it] : [it, top];
      const name = (x: Item) => (x.implicit ? `peers[${x.peer}].vip` : `peers[${x.peer}].allowed_ips[${x.index}]`);
      throw new ConfigError(name(b), show(name(b), formatIpNet(b.net)), `overlaps ${name(a)} (${formatIpNet(a.net)}); a packet's destination must pick one peer`);
    }
    stack.push(it);
  }
}
