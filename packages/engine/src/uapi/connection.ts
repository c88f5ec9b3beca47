/**
 * One connection to the UAPI socket, served with bounded memory and bounded work per turn
 * of the event loop, whatever the client sends or fails to read:
 *
 * - Input is read a line at a time, only when the connection is ready for the next line;
 *   the rest waits in the kernel (the socket is paused, so a client that pipelines requests
 *   without reading the answers fills its own send buffer, not our memory). A line longer
 *   than `maxLineBytes` (4096) is answered with `errno=-90` (EMSGSIZE) and the connection
 *   is closed.
 * - A `set=1` request is applied in order, in parts of `setChunkLines` (2048) lines or
 *   `setChunkPeers` (128) peers, with a turn of the event loop between parts, so
 *   handshakes, timers and other connections' `wg show` go on while `wg setconf` loads
 *   100,000 allowed IPs or 10,000 peers. A request that fits in one part (every ordinary
 *   one) is applied whole or not at all; a longer one keeps the parts applied before a bad
 *   line, as wireguard-go, which applies while it reads, does.
 *   One `set=1` at a time per interface: another waits for it (and a request that stops
 *   sending halfway for `setIdleMs` is dropped). Between parts, answers being written to
 *   other connections go first (for up to 250 ms a part), so `wg show` stays quick.
 * - An answer is written a piece at a time (formatGetChunks), waiting for the socket to
 *   drain, so it may be longer than any buffer; one that the client does not read for
 *   `writeStallMs` (30 s) ends the connection.
 * - At most `maxConnections` (32) are served at once. When a new one comes and all are
 *   taken, the one that has waited on its client the longest (for a request, for the rest
 *   of a line, or for it to read an answer) is closed to make room: connections a client
 *   leaves open and silent cannot lock `wg` out. Only when every connection is working
 *   (or in a `set=1`) is the new one closed at once.
 * @module
 */
import type { Socket } from "node:net";
import { constants } from "node:os";
import type { Logger } from "../log/log.js";
import { formatGetChunks, SetParser, type UapiDevice, UapiError } from "./protocol.js";

/** The bounds a UAPI server keeps; {@link UAPI_LIMITS} are the defaults. */
export interface UapiLimits {
  /** The longest line accepted. wg's longest is about 100 bytes (an IPv6 endpoint or allowed IP). */
  readonly maxLineBytes: number;
  /** Lines of a `set=1` request applied per turn of the event loop. */
  readonly setChunkLines: number;
  /** Peers (`public_key` lines) of a `set=1` request applied per turn: a new peer costs an X25519 operation. */
  readonly setChunkPeers: number;
  /** A client that reads nothing of an answer for this long (ms) is disconnected. */
  readonly writeStallMs: number;
  /** A `set=1` request that sends nothing more for this long (ms) is dropped: other requests wait for it. */
  readonly setIdleMs: number;
  /** Connections served at once; beyond it the longest waiting on its client makes room. `wg` opens one per command. */
  readonly maxConnections: number;
}

export const UAPI_LIMITS: UapiLimits = { maxLineBytes: 4096, setChunkLines: 2048, setChunkPeers: 128, writeStallMs: 30_000, setIdleMs: 10_000, maxConnections: 32 };
/** Characters written between turns of the event loop while answering. */
const YIELD_CHARS = 1 << 20;

const { EIO, EMSGSIZE, EPROTO, ETIMEDOUT } = constants.errno;

/** What every connection of one server shares. */
export interface ServerState {
  readonly device: UapiDevice;
  readonly logger?: Logger;
  readonly limits: UapiLimits;
  /** Settles when the `set=1` being applied, if any, is done; the next one chains on it. */
  setLock: Promise<void>;
  /** Answers to `get` being written, and who waits for there to be none. */
  gets: number;
  getsDone: Array<() => void>;
  /** The connections being served. */
  readonly held: Set<Held>;
}

/** A connection being served, and since when (performance.now()) it has waited on its client. */
export interface Held {
  readonly sock: Socket;
  /** Waiting for input or for the client to read; null while working. */
  waitingSince: number | null;
  /** In a `set=1` request: never evicted (it has its own idle bound, and may have applied parts). */
  inSet: boolean;
}

/**
 * Makes room for a new connection: true when it may be served, after closing the
 * connection that has waited on its client the longest if the server is full; false
 * when every connection is working (the caller closes the new one).
 */
export function admit(state: ServerState): boolean {
  if (state.held.size < state.limits.maxConnections) return true;
  let oldest: Held | null = null;
  for (const h of state.held) {
    if (h.waitingSince !== null && !h.inSet && (oldest === null || h.waitingSince < oldest.waitingSince!)) oldest = h;
  }
  if (!oldest) return false;
  state.logger?.warn("uapi connection closed to make room: it waited on its client the longest", { waitedMs: Math.round(performance.now() - oldest.waitingSince!), max: state.limits.maxConnections });
  state.held.delete(oldest);
  oldest.sock.destroy();
  return true;
}

/** How long a part of a long `set=1` waits for answers being written (they go first, but may not stall it). */
const GET_FIRST_MS = 250;

/** The connection must end: a line too long, a client gone quiet. `reply` is written first, if any. */
class Hangup extends Error {
  constructor(
    message: string,
    readonly reply?: string,
  ) {
    super(message);
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const errnoReply = (errno: number) => `errno=${-errno}\n\n`; // negated on the wire, as wg expects

/** Lines from a paused socket, read only when asked for. */
class LineReader {
  private chunk: Buffer | null = null;
  private at = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly sock: Socket,
    private readonly maxLine: number,
    private readonly held: Held,
  ) {
    const wake = () => this.wake?.();
    sock.on("readable", wake);
    sock.on("end", wake);
    sock.on("close", wake);
  }

  /**
   * The next line, without its newline; null at the end of the input (a last line without
   * a newline is dropped: every message ends with an empty line).
   * @throws {Hangup} a line longer than the limit, or nothing for `idleMs`
   */
  async line(idleMs = Infinity): Promise<string | null> {
    for (;;) {
      const line = this.next();
      if (line !== undefined) return line;
      if (this.sock.destroyed || this.sock.readableEnded) return null;
      const c = this.sock.read() as Buffer | null;
      if (c !== null) {
        this.chunk = c;
        this.at = 0;
        continue;
      }
      await this.waitForInput(idleMs);
    }
  }

  private waitForInput(idleMs: number): Promise<void> {
    this.held.waitingSince = performance.now();
    return new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(idleMs) ? setTimeout(() => reject(new Hangup(`nothing received for ${idleMs} ms in the middle of a request`, errnoReply(ETIMEDOUT))), idleMs) : null;
      this.wake = () => {
        this.wake = null;
        if (timer) clearTimeout(timer);
        resolve();
      };
    }).finally(() => (this.held.waitingSince = null));
  }

  /** A whole line from what was read already, or undefined. */
  private next(): string | undefined {
    const c = this.chunk;
    if (!c) return undefined;
    const nl = c.indexOf(10, this.at);
    const end = nl < 0 ? c.length : nl;
    if (this.partialBytes + (end - this.at) > this.maxLine) {
      throw new Hangup(`a line longer than ${this.maxLine} bytes`, errnoReply(EMSGSIZE));
    }
    if (nl < 0) {
      this.partial.push(c.subarray(this.at));
      this.partialBytes += c.length - this.at;
      this.chunk = null;
      return undefined;
    }
    let line: string;
    if (this.partial.length > 0) {
      this.partial.push(c.subarray(this.at, nl));
      line = Buffer.concat(this.partial).toString("utf8");
      this.partial = [];
      this.partialBytes = 0;
    } else line = c.toString("utf8", this.at, nl);
    this.at = nl + 1;
    if (this.at >= c.length) this.chunk = null;
    return line;
  }
}

/** Writes to the socket, waiting for it to drain whenever it has a buffer's worth queued. */
class Writer {
  private sinceTurn = 0;

  constructor(
    private readonly sock: Socket,
    private readonly stallMs: number,
    private readonly held: Held,
  ) {}

  /** False when the connection is gone (or was dropped for not reading). */
  async write(text: string): Promise<boolean> {
    const sock = this.sock;
    if (sock.destroyed || !sock.writable) return false;
    this.sinceTurn += text.length;
    if (!sock.write(text)) return this.drained();
    if (this.sinceTurn >= YIELD_CHARS) {
      this.sinceTurn = 0;
      await turn();
    }
    return !sock.destroyed;
  }

  private drained(): Promise<boolean> {
    const sock = this.sock;
    this.held.waitingSince = performance.now();
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.held.waitingSince = null;
        clearTimeout(timer);
        sock.off("drain", onDrain);
        sock.off("close", onClose);
        this.sinceTurn = 0;
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => {
        sock.destroy();
        done(false);
      }, this.stallMs);
      sock.on("drain", onDrain);
      sock.on("close", onClose);
    });
  }
}

/** Serves requests on `sock` (created paused, and {@link admit}ted) until the client closes it. */
export async function serveConnection(sock: Socket, state: ServerState): Promise<void> {
  sock.on("error", () => sock.destroy());
  const held: Held = { sock, waitingSince: null, inSet: false };
  state.held.add(held);
  sock.once("close", () => state.held.delete(held));
  const { logger, limits } = state;
  const reader = new LineReader(sock, limits.maxLineBytes, held);
  const writer = new Writer(sock, limits.writeStallMs, held);
  try {
    for (;;) {
      const op = await reader.line();
      if (op === null) break;
      if (op === "") continue; // stray empty lines between requests
      let ok: boolean;
      if (op === "set=1") {
        held.inSet = true;
        ok = await set(reader, writer, state).finally(() => (held.inSet = false));
      } else if (op === "get=1" || (op === "get=taltun" && state.device.counters)) ok = await get(op, reader, writer, state);
      else {
        const complete = await skipRequest(reader);
        logger?.warn("uapi request failed", { errno: EPROTO, error: `unknown operation ${JSON.stringify(op.slice(0, 20))}` });
        ok = complete && (await writer.write(errnoReply(EPROTO)));
      }
      if (!ok) break;
    }
    sock.end();
  } catch (e) {
    const hangup = e instanceof Hangup ? e : new Hangup(e instanceof Error ? e.message : String(e));
    logger?.warn("uapi connection closed", { error: hangup.message });
    if (hangup.reply && sock.writable) {
      const timer = setTimeout(() => sock.destroy(), limits.writeStallMs);
      sock.end(hangup.reply, () => (clearTimeout(timer), sock.destroy()));
    } else sock.destroy();
  }
}

/** Reads up to the empty line that ends a request; false if the input ended first. */
async function skipRequest(reader: LineReader): Promise<boolean> {
  for (;;) {
    const line = await reader.line();
    if (line === null) return false;
    if (line === "") return true;
  }
}

async function get(op: string, reader: LineReader, writer: Writer, state: ServerState): Promise<boolean> {
  const next = await reader.line();
  if (next === null) return false;
  if (next !== "") {
    const complete = await skipRequest(reader);
    state.logger?.warn("uapi request failed", { errno: EPROTO, error: `${op} takes no arguments` });
    return complete && writer.write(errnoReply(EPROTO));
  }
  state.gets++;
  try {
    let chunks: Iterable<string>;
    try {
      const device = state.device;
      chunks = op === "get=1" ? formatGetChunks(await device.snapshot()) : [Object.entries(device.counters!()).map(([k, v]) => `${k}=${v}\n`).join("")];
    } catch (e) {
      return await writer.write(errnoReply(failure(e, state.logger)));
    }
    for (const chunk of chunks) if (!(await writer.write(chunk))) return false;
    return await writer.write("errno=0\n\n");
  } finally {
    if (--state.gets === 0) for (const wake of state.getsDone.splice(0)) wake();
  }
}

/** Resolves when no answer is being written, or after `ms`. */
function getsDone(state: ServerState, ms: number): Promise<void> {
  if (state.gets === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    state.getsDone.push(() => (clearTimeout(timer), resolve()));
  });
}

async function set(reader: LineReader, writer: Writer, state: ServerState): Promise<boolean> {
  // One request at a time: the next one queues behind this one.
  const before = state.setLock;
  let release!: () => void;
  state.setLock = new Promise((resolve) => (release = resolve));
  await before;
  try {
    const parser = new SetParser();
    const started = performance.now();
    let error: unknown = null;
    let parts = 0;
    let replacePeers = false;
    /** A part was applied with `more`: the device waits for a last part to publish it. */
    let unfinished = false;
    const apply = async (more: boolean) => {
      const part = parser.take(more) ?? (unfinished && !more ? { replacePeers: false, peers: [] } : null);
      if (!part) return;
      parts++;
      replacePeers ||= part.replacePeers;
      unfinished = more;
      try {
        await state.device.apply(part);
      } catch (e) {
        error = e;
      }
    };
    try {
      for (;;) {
        const line = await reader.line(state.limits.setIdleMs);
        // Cut off before its end: what was not applied yet is dropped.
        if (line === null) return false;
        if (line === "") break;
        if (error) continue; // read to the end of the request, then answer
        try {
          parser.line(line);
        } catch (e) {
          error = e;
          continue;
        }
        if (parser.pending >= state.limits.setChunkLines || parser.pendingPeers >= state.limits.setChunkPeers) {
          await apply(true);
          await turn();
          await getsDone(state, GET_FIRST_MS);
        }
      }
      if (!error) await apply(false);
    } finally {
      if (unfinished) {
        // Ended early (a bad line, the client gone): what was applied is published.
        parser.take();
        const failed = error;
        await apply(false);
        error = failed;
      }
    }
    if (error) return writer.write(errnoReply(failure(error, state.logger)));
    state.logger?.info("uapi set applied", { peers: parser.peersRead, replacePeers, parts, ms: Math.round(performance.now() - started) });
    return writer.write("errno=0\n\n");
  } finally {
    release();
  }
}

/** The errno of a failed request (EIO for what is not a UapiError), logged. */
function failure(e: unknown, logger?: Logger): number {
  const errno = e instanceof UapiError ? e.errno : EIO;
  logger?.warn("uapi request failed", { errno, error: e instanceof Error ? e.message : String(e) });
  return errno;
}
