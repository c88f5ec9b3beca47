/**
 * The WireGuard userspace API socket (https://www.wireguard.com/xplatform/): a Unix
 * stream socket at `/var/run/wireguard/<iface>.sock` that answers `get=1` and `set=1`, so
 * stock `wg` and `taltun show` can inspect and change a running Taltun interface. Also the
 * client side, used by `taltun show`.
 * @module
 */
import { lstatSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { type Server, type Socket, createConnection, createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log/log.js";
import { type DeviceSnapshot, type UapiDevice, UapiError, formatGet, parseGet, parseSet } from "./protocol.js";

export * from "./protocol.js";

/** Where `wg` looks for userspace interfaces. */
export const UAPI_DIR = "/var/run/wireguard";

// A request is a few lines per peer; this bounds what one connection can make us buffer.
const MAX_REQUEST_BYTES = 16 << 20;

/** Options of `uapiListen` and the client functions. */
export interface UapiOptions {
  /** The socket directory; `UAPI_DIR` unless testing elsewhere. */
  readonly dir?: string;
  readonly logger?: Logger;
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
  const server = createServer({ allowHalfOpen: true }, (sock) => serve(sock, device, options.logger));
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

/** Answers requests on one connection until the client closes it. */
function serve(sock: Socket, device: UapiDevice, logger?: Logger): void {
  let buf = "";
  let busy = Promise.resolve();
  sock.setEncoding("utf8");
  sock.on("error", () => sock.destroy());
  sock.on("data", (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST_BYTES) return void sock.destroy();
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const lines = buf.slice(0, end).split("\n");
      buf = buf.slice(end + 2);
      busy = busy.then(() => answer(lines, device, logger)).then((reply) => void (sock.writable && sock.write(reply)));
    }
  });
  sock.on("end", () => void busy.then(() => sock.end()));
}

async function answer(lines: string[], device: UapiDevice, logger?: Logger): Promise<string> {
  const [op, ...body] = lines;
  try {
    if (op === "get=1" && body.length === 0) return `${formatGet(await device.snapshot())}errno=0\n\n`;
    if (op === "get=taltun" && body.length === 0 && device.counters) {
      return `${Object.entries(device.counters()).map(([k, v]) => `${k}=${v}\n`).join("")}errno=0\n\n`;
    }
    if (op === "set=1") {
      const request = parseSet(body);
      await device.apply(request);
      logger?.info("uapi set applied", { peers: request.peers.length, replacePeers: request.replacePeers });
      return "errno=0\n\n";
    }
    throw new UapiError(constants.errno.EPROTO, `unknown operation ${JSON.stringify(op?.slice(0, 20))}`);
  } catch (e) {
    const errno = e instanceof UapiError ? e.errno : constants.errno.EIO;
    logger?.warn("uapi request failed", { errno, error: e instanceof Error ? e.message : String(e) });
    // On the wire the errno is negated, as wireguard-go writes it and wg reads it.
    return `errno=${-errno}\n\n`;
  }
}

/** Sends one request and reads its answer up to the empty line. */
function request(path: string, text: string, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = "";
    c.setEncoding("utf8");
    c.setTimeout(timeoutMs, () => c.destroy(new UapiError(constants.errno.ETIMEDOUT, `${path}: no answer`)));
    c.once("connect", () => c.write(text));
    c.on("data", (d: string) => {
      buf += d;
      const end = buf.indexOf("\n\n");
      if (end >= 0) {
        c.end();
        resolve(buf.slice(0, end).split("\n"));
      }
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
