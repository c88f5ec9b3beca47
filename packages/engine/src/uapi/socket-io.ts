/**
 * Reading and writing one UAPI connection with bounded memory, whatever the client sends
 * or fails to read:
 *
 * - Input is read a line at a time, only when the connection is ready for the next line;
 *   the rest waits in the kernel (the socket is paused, so a client that pipelines requests
 *   without reading the answers fills its own send buffer, not our memory). A line longer
 *   than `maxLineBytes` (4096) is answered with `errno=-90` (EMSGSIZE) and the connection
 *   is closed.
 * - An answer is written a piece at a time, waiting for the socket to drain, so it may be
 *   longer than any buffer; one that the client does not read for `writeStallMs` (30 s)
 *   ends the connection.
 *
 * Both note in the connection's {@link Held} record when they wait on the client, which is
 * what admission (server-state.ts) evicts by.
 * @module
 */
import type { Socket } from "node:net";
import { constants } from "node:os";
import type { Held } from "./server-state.js";

/** Characters written between turns of the event loop while answering. */
const YIELD_CHARS = 1 << 20;

const { EMSGSIZE, ETIMEDOUT } = constants.errno;

/** The connection must end: a line too long, a client gone quiet. `reply` is written first, if any. */
export class Hangup extends Error {
  constructor(
    message: string,
    readonly reply?: string,
  ) {
    super(message);
  }
}

/** Yields a turn of the event loop, so timers and other connections run between pieces of work. */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** The answer to a failed request, or the last words before a hangup. */
export const errnoReply = (errno: number) => `errno=${-errno}\n\n`; // negated on the wire, as wg expects

/** Lines from a paused socket, read only when asked for. */
export class LineReader {
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
export class Writer {
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
