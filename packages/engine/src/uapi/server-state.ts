/**
 * What every connection of one UAPI server shares: its bounds, the `set=1` lock, the count
 * of answers being written, and the connections held. At most `maxConnections` (32) are
 * served at once. When a new one comes and all are taken, the one that has waited on its
 * client the longest (for a request, for the rest of a line, or for it to read an answer)
 * is closed to make room: connections a client leaves open and silent cannot lock `wg`
 * out. Only when every connection is working (or in a `set=1`) is the new one closed at once.
 * @module
 */
import type { Socket } from "node:net";
import type { Logger } from "../log/log.js";
import type { UapiDevice } from "./protocol.js";

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

/** The limits every UAPI server keeps unless its caller gives others (tests use smaller ones). */
export const UAPI_LIMITS: UapiLimits = { maxLineBytes: 4096, setChunkLines: 2048, setChunkPeers: 128, writeStallMs: 30_000, setIdleMs: 10_000, maxConnections: 32 };

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
