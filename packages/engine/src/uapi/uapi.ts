/**
 * The WireGuard userspace API socket (https://www.wireguard.com/xplatform/): a Unix
 * stream socket at `/var/run/wireguard/<iface>.sock` that answers `get=1` and `set=1`, so
 * stock `wg` and `taltun show` can inspect and change a running Taltun interface. Also the
 * client side, used by `taltun show`.
 * @module
 */
import { lstatSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { type Server, createConnection, createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log/log.js";
import { type DeviceSnapshot, type UapiDevice, UapiError, parseGet } from "./protocol.js";
import { serveConnection } from "./connection.js";
import { admit, type ServerState, UAPI_LIMITS, type UapiLimits } from "./server-state.js";

export * from "./protocol.js";
export { UAPI_LIMITS, type UapiLimits } from "./server-state.js";

/** Where `wg` looks for userspace interfaces. */
export const UAPI_DIR = "/var/run/wireguard";


/** Options of `uapiListen` and the client functions. */
export interface UapiOptions {
  /** The socket directory; `UAPI_DIR` unless testing elsewhere. */
  readonly dir?: string;
  readonly logger?: Logger;
  /** The server's bounds (lines, connections, stalls); {@link UAPI_LIMITS} unless testing them. */
  readonly limits?: Partial<UapiLimits>;
}

/** A listening UAPI socket. */
export interface UapiServer {
  readonly path: string;
  /** Stops listening and removes the socket file. */
  close(): Promise<void>;
}

/** The socket path of an interface. */
export function uapiSocketPath(iface: string, dir = UAPI_DIR): string {
  return join(dir, `${iface}.sock`);
}

/**
 * Serves the UAPI for `device` on `<dir>/<iface>.sock`. A stale socket (nobody answers)
 * is replaced; a live one means another process runs this interface, and is refused.
 * Call it on the main thread (the control plane): it sets the process umask for a moment,
 * which worker threads may not do.
 * @throws {UapiError} EADDRINUSE when another live process owns the socket
 * @example const uapi = await uapiListen("tt0", device, { logger }); … await uapi.close();
 */
export async function uapiListen(iface: string, device: UapiDevice, options: UapiOptions = {}): Promise<UapiServer> {
  const dir = options.dir ?? UAPI_DIR;
  const path = uapiSocketPath(iface, dir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  await takeOverStale(path);
  // Half-open: a client may shut its side after the request and still read the answer.
  const limits = { ...UAPI_LIMITS, ...options.limits };
  const state: ServerState = { device, logger: options.logger, limits, setLock: Promise.resolve(), gets: 0, getsDone: [], held: new Set() };
  // Paused: a connection reads only when it is ready for the next line (see connection.ts).
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
    if (admit(state)) return void serveConnection(sock, state);
    options.logger?.warn("uapi connection refused: every connection is busy", { max: limits.maxConnections });
    sock.destroy();
  });
  // The socket grants control of the tunnel: create it private rather than chmod it later.
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  const ino = lstatSync(path).ino;
  options.logger?.debug("uapi listening", { path });
  return { path, close: () => closeServer(server, path, ino) };
}

async function takeOverStale(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new UapiError(constants.errno.EEXIST, `${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });
  if (alive) throw new UapiError(constants.errno.EADDRINUSE, `${path} is in use: another process runs this interface`);
  unlinkSync(path);
}

async function closeServer(server: Server, path: string, ino: number): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    // Remove only our own socket, not one a successor created at the same path.
    if (lstatSync(path).ino === ino) unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Sends one request and reads its answer up to the empty line. */
function request(path: string, text: string, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    // Pieces, joined once the empty line is in: an answer may be megabytes long.
    const pieces: string[] = [];
    let tail = "";
    c.setEncoding("utf8");
    c.setTimeout(timeoutMs, () => c.destroy(new UapiError(constants.errno.ETIMEDOUT, `${path}: no answer`)));
    c.once("connect", () => c.write(text));
    c.on("data", (d: string) => {
      pieces.push(d);
      const end = (tail + d).indexOf("\n\n");
      if (end >= 0) {
        c.end();
        const all = pieces.join("");
        resolve(all.slice(0, all.length - d.length - tail.length + end).split("\n"));
      }
      tail = d.slice(-1);
    });
    c.once("error", (e: NodeJS.ErrnoException) =>
      reject(e instanceof UapiError ? e : new UapiError(constants.errno[e.code as keyof typeof constants.errno] ?? constants.errno.EIO, `${path}: ${e.code ?? e.message}`)),
    );
    c.once("close", () => reject(new UapiError(constants.errno.EPROTO, `${path}: closed before answering`)));
  });
}

/**
 * Reads a running interface's state through its UAPI socket (`wg show`'s source).
 * @throws {UapiError} ENOENT when no such interface runs, or the errno it answers
 * @example const snap = await uapiGet("tt0"); snap.peers.length
 */
export async function uapiGet(iface: string, options: UapiOptions = {}): Promise<DeviceSnapshot> {
  return parseGet(await request(uapiSocketPath(iface, options.dir), "get=1\n\n"));
}

/**
 * Reads a running Taltun interface's data-plane counters (`get=taltun`); null from an
 * interface that does not have them (wireguard-go, the kernel module).
 * @example const c = await uapiCounters("tt0"); c?.droppedRejected
 */
export async function uapiCounters(iface: string, options: UapiOptions = {}): Promise<Record<string, number> | null> {
  const lines = await request(uapiSocketPath(iface, options.dir), "get=taltun\n\n");
  if (lines.at(-1) !== "errno=0") return null;
  return Object.fromEntries(lines.slice(0, -1).map((l) => [l.slice(0, l.indexOf("=")), Number(l.slice(l.indexOf("=") + 1))]));
}

/** Names of the interfaces with a socket in the UAPI directory (answering or not). */
export function uapiInterfaces(options: UapiOptions = {}): string[] {
  try {
    return readdirSync(options.dir ?? UAPI_DIR)
      .filter((f) => f.endsWith(".sock"))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}
