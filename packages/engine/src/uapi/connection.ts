/**
 * One connection to the UAPI socket: its requests served in order, with bounded work per
 * turn of the event loop. Lines come from, and answers go to, socket-io.ts; what all
 * connections share, and which of them are let in, is server-state.ts.
 *
 * - A `set=1` request is applied in order, in parts of `setChunkLines` (2048) lines or
 *   `setChunkPeers` (128) peers, with a turn of the event loop between parts, so
 *   handshakes, timers and other connections' `wg show` go on while `wg setconf` loads
 *   100,000 allowed IPs or 10,000 peers. A request that fits in one part (every ordinary
 *   one) is applied whole or not at all; a longer one keeps the parts applied before a bad
 *   line, as wireguard-go, which applies while it reads, does.
 *   One `set=1` at a time per interface: another waits for it (and a request that stops
 *   sending halfway for `setIdleMs` is dropped). Between parts, answers being written to
 *   other connections go first (for up to 250 ms a part), so `wg show` stays quick.
 * - An answer is formatted a piece at a time (formatGetChunks), so it may be longer than
 *   any buffer.
 * @module
 */
import type { Socket } from "node:net";
import { constants } from "node:os";
import type { Logger } from "../log/log.js";
import { formatGetChunks, SetParser, UapiError } from "./protocol.js";
import type { Held, ServerState } from "./server-state.js";
import { errnoReply, Hangup, LineReader, turn, Writer } from "./socket-io.js";

const { EIO, EPROTO } = constants.errno;

/** How long a part of a long `set=1` waits for answers being written (they go first, but may not stall it). */
const GET_FIRST_MS = 250;

/** Serves requests on `sock` (created paused, and let in by admit, server-state.ts) until the client closes it. */
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
