/**
 * Where a worker's handshake messages go: each one of the right size passes the gate
 * (handshake-guard.ts) and is put in the priority ring or the ordinary one, or answered
 * with a cookie reply, or dropped. Cookie replies of one received batch leave together,
 * with one sendmmsg from the worker's own socket, to where each message came from and
 * from the address it arrived at.
 * @module
 */
import { BatchControl } from "@taltun/io-shim";
import { LOCAL_BYTES } from "../tables/peer-slot.js";
import { ENDPOINT_BYTES, type SharedTables } from "../tables/shared-tables.js";
import type { BatchIo } from "./batch-io.js";
import { GUARD, HandshakeGuard } from "./handshake-guard.js";
import type { HandshakeRing } from "./ring.js";
import { BATCH, COOKIE_SLOT, type WorkerRegions } from "./regions.js";
import { STAT } from "./stats.js";

/** What an intake needs: the worker's memory, tables, regions, rings and counters. */
export interface IntakeOptions {
  memory: WebAssembly.Memory;
  tables: SharedTables;
  regions: WorkerRegions;
  ring: HandshakeRing;
  priority: HandshakeRing;
  udpFd: number;
  io: BatchIo;
  count: (stat: number, n?: number) => void;
  /** Wakes the control plane (once per batch, by the worker). */
  signal: () => void;
}

/** One worker's handshake intake. */
export class HandshakeIntake {
  private readonly u8: Uint8Array;
  private readonly guard: HandshakeGuard;
  private readonly send: BatchControl;
  private readonly lengths: Uint32Array;
  private replies = 0;

  constructor(private readonly o: IntakeOptions) {
    const r = o.regions;
    this.u8 = new Uint8Array(o.memory.buffer);
    this.guard = new HandshakeGuard(o.tables, (stat) => o.count(stat));
    this.send = new BatchControl(o.memory, r.cbCookie).setup({
      fd: o.udpFd, count: BATCH, buffer: r.cookiePool, stride: COOKIE_SLOT, lengths: r.cookieLengths, addrs: r.cookieAddrs, locals: r.cookieLocals,
    });
    this.lengths = new Uint32Array(o.memory.buffer, r.cookieLengths, BATCH);
  }

  /** Cookie replies leave from socket `fd` from now on (the listen port was changed). */
  setUdpFd(fd: number): void {
    this.send.fd = fd;
  }

  /**
   * The handshake message of the right size at `u8[at..at+length]`, from the endpoint record
   * at `source`, arrived at the local address record at `local`. A cookie reply is queued
   * until {@link flush}.
   */
  take(at: number, length: number, source: number, local: number, now: number): void {
    const { o, u8 } = this;
    const verdict = this.guard.check(u8, at, length, source, now);
    if (verdict === GUARD.cookieReply) {
      // Never more than one per received datagram, so a batch's replies fit the BATCH slots.
      const k = this.replies++;
      const r = o.regions;
      u8.set(this.guard.reply, r.cookiePool + k * COOKIE_SLOT);
      this.lengths[k] = this.guard.reply.length;
      u8.copyWithin(r.cookieAddrs + k * ENDPOINT_BYTES, source, source + ENDPOINT_BYTES);
      u8.copyWithin(r.cookieLocals + k * LOCAL_BYTES, local, local + LOCAL_BYTES);
      return;
    }
    if (verdict === GUARD.dropped) return;
    const ring = verdict === GUARD.priority ? o.priority : o.ring;
    if (ring.push(at, length, source, local)) {
      o.count(STAT.handshakeMessages);
      if (verdict === GUARD.priority) o.count(STAT.handshakePriority);
    } else o.count(STAT.droppedRingFull);
    o.signal();
  }

  /** Sends the cookie replies queued since the last flush, with one sendmmsg. */
  flush(): void {
    const k = this.replies;
    if (k === 0) return;
    this.replies = 0;
    this.send.count = k;
    const sent = this.o.io.udpSend(this.send);
    this.o.count(STAT.ioCalls);
    if (sent < k) this.o.count(STAT.sendErrors, k - Math.max(sent, 0));
  }
}
