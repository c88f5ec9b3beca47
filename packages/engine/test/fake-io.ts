/**
 * An in-memory {@link BatchIo}: a UDP socket and a TUN device made of queues, that reads
 * and writes the control blocks exactly as io-shim's C does (slots by stride or slot
 * table, lengths, 24-byte address records, local address records in and out, holes of
 * length 0, a TUN write that stops at the packet the kernel rejects, a source the kernel
 * refuses falling over to its own choice). Datapath tests run the real packet loop on it without
 * root, as wireguard-go's tuntest and bindtest do.
 */
import { type BatchControl, CB_GSO_FALLBACKS, CB_TRAINS, CB_TRUNCATED, memoryAddress, SEND_COALESCE, SLOT_ENTRY_SIZE } from "@taltun/io-shim";
import type { BatchIo } from "../src/dataplane/batch-io.js";

const ADDR = 24;
const EINVAL = 22;
const EAGAIN = 11;

/**
 * A datagram on the fake wire: its bytes, the other end's address record, and our end's
 * local address record (received: where it arrived; sent: the source it left from, all
 * zero for the kernel's choice). No `local` on a datagram to receive: none reported.
 */
export interface Datagram {
  bytes: Uint8Array;
  peer: Uint8Array;
  local?: Uint8Array;
  /** A GRO train: `bytes` holds segments of `seg` bytes, the last possibly shorter. */
  seg?: number;
  /** The kernel cut it short (MSG_TRUNC): dropped whole on a GRO receive. */
  truncated?: boolean;
}

export class FakeIo implements BatchIo {
  /** Datagrams waiting to be received (`peer`: their source). */
  readonly udpIn: Datagram[] = [];
  /** Datagrams sent (`peer`: their destination). */
  readonly udpOut: Datagram[] = [];
  /** Packets the TUN device will hand to reads. */
  readonly tunIn: Uint8Array[] = [];
  /** Packets written to the TUN device. */
  readonly tunOut: Uint8Array[] = [];
  /** The kernel refuses these TUN writes (EINVAL for that packet, as for a malformed one). */
  rejectTun: (packet: Uint8Array) => boolean = () => false;
  /** How many more packets the TUN queue takes before writes fail with EAGAIN. */
  tunRoom = Infinity;
  /** Sources the host no longer has: a send from one falls over to the kernel's choice, as io-shim's does. */
  refuseSource: (local: Uint8Array) => boolean = () => false;
  /** The kernel refuses coalesced messages (segments over the path MTU): each run of two or more goes one by one and counts as a GSO fallback. */
  refuseGso = false;
  /** The flags of every udpSend batch, in order. */
  readonly sendFlags: number[] = [];
  /** Batch calls made, by kind: the data plane makes one per batch. */
  readonly calls = { udpRecv: 0, udpSend: 0, tunRead: 0, tunWrite: 0 };
  private readonly u8: Uint8Array;
  private readonly view: DataView;
  private readonly base: number;

  constructor(memory: WebAssembly.Memory) {
    this.u8 = new Uint8Array(memory.buffer);
    this.view = new DataView(memory.buffer);
    this.base = memoryAddress(memory);
  }

  /** Segments of GRO trains received and not yet handed out (io-shim keeps them in the GRO area). */
  private readonly held: Datagram[] = [];

  udpRecv(cb: BatchControl): number {
    this.calls.udpRecv++;
    if (cb.groPtr) return this.udpRecvGro(cb);
    // Without GRO the kernel never merges: a train arrives as its segments.
    while (this.udpIn.some((d) => d.seg)) {
      const k = this.udpIn.findIndex((d) => d.seg);
      this.udpIn.splice(k, 1, ...segments(this.udpIn[k]));
    }
    const n = Math.min(cb.count, this.udpIn.length);
    for (let i = 0; i < n; i++) {
      const d = this.udpIn.shift()!;
      this.put(cb, i, d);
    }
    cb.count = n;
    return n;
  }

  /**
   * As io-shim's GRO receive: trains cut into one slot per segment, leftovers held for the
   * next call, a datagram cut short or a segment over its slot dropped whole and counted.
   */
  private udpRecvGro(cb: BatchControl): number {
    let out = 0, truncated = 0, trains = 0;
    while (out < cb.count) {
      if (this.held.length === 0) {
        const d = this.udpIn.shift();
        if (!d) break;
        if (d.truncated) truncated++;
        else if (d.seg && d.seg < d.bytes.length) {
          trains++;
          this.held.push(...segments(d));
        } else this.held.push(d);
        continue;
      }
      const d = this.held.shift()!;
      if (d.bytes.length > this.slot(cb, out).room) truncated++;
      else this.put(cb, out++, d);
    }
    this.view.setUint32(cb.offset + CB_TRUNCATED, truncated, true);
    this.view.setUint32(cb.offset + CB_TRAINS, trains, true);
    cb.count = out;
    return out;
  }

  /** Datagram `d` into slot `i`, cut to the slot as the kernel cuts it. */
  private put(cb: BatchControl, i: number, d: Datagram): void {
    const { at, room } = this.slot(cb, i);
    const len = Math.min(d.bytes.length, room);
    this.u8.set(d.bytes.subarray(0, len), at);
    this.setLength(cb, i, len);
    if (cb.addrsPtr) this.u8.set(d.peer.subarray(0, ADDR), cb.addrsPtr - this.base + i * ADDR);
    if (cb.localsPtr) {
      const l = cb.localsPtr - this.base + i * ADDR;
      this.u8.fill(0, l, l + ADDR);
      if (d.local) this.u8.set(d.local.subarray(0, ADDR), l);
    }
  }

  udpSend(cb: BatchControl): number {
    this.calls.udpSend++;
    this.sendFlags.push(cb.flags);
    let done = 0;
    cb.fallbacks = 0;
    let runs = 0;
    if (this.refuseGso && cb.flags & SEND_COALESCE) {
      // runs of same-peer packets of the same size, as io-shim would merge them
      for (let i = 1, inRun = false; i < cb.count; i++) {
        const prev = this.length(cb, i - 1), len = this.length(cb, i);
        const a = cb.addrsPtr - this.base + (i - 1) * ADDR;
        const same = prev > 0 && len > 0 && len <= prev && this.u8.subarray(a, a + ADDR).every((x, k) => x === this.u8[a + ADDR + k]);
        if (same && !inRun) runs++;
        inRun = same && len === prev;
      }
    }
    this.view.setUint32(cb.offset + CB_GSO_FALLBACKS, runs, true);
    for (let i = 0; i < cb.count; i++) {
      const len = this.length(cb, i);
      if (len === 0) continue;
      const { at } = this.slot(cb, i);
      const addr = cb.addrsPtr - this.base + i * ADDR;
      const local = new Uint8Array(ADDR);
      if (cb.localsPtr) {
        const l = cb.localsPtr - this.base + i * ADDR;
        // a source of the peer's family is used; io-shim ignores one of the other family
        if (this.view.getUint16(l, true) === this.view.getUint16(addr, true)) local.set(this.u8.subarray(l, l + ADDR));
        if (local[0] !== 0 && this.refuseSource(local)) {
          this.view.setUint16(l, 0, true); // fell over: family cleared, address kept
          cb.fallbacks++;
          local.fill(0);
        }
      }
      this.udpOut.push({ bytes: this.u8.slice(at, at + len), peer: this.u8.slice(addr, addr + ADDR), local });
      done++;
    }
    cb.count = done;
    return done;
  }

  tunRead(cb: BatchControl): number {
    this.calls.tunRead++;
    const n = Math.min(cb.count, this.tunIn.length);
    for (let i = 0; i < n; i++) {
      const p = this.tunIn.shift()!;
      const { at, room } = this.slot(cb, i);
      if (p.length > room) throw new Error(`fake TUN: a ${p.length}-byte packet does not fit a ${room}-byte slot`);
      this.u8.set(p, at);
      this.setLength(cb, i, p.length);
    }
    cb.count = n;
    return n;
  }

  tunWrite(cb: BatchControl): number {
    this.calls.tunWrite++;
    let done = 0;
    cb.errno = 0;
    for (let i = 0; i < cb.count; i++) {
      const len = this.length(cb, i);
      if (len === 0) continue;
      const { at } = this.slot(cb, i);
      const packet = this.u8.slice(at, at + len);
      if (this.tunRoom <= 0 || this.rejectTun(packet)) {
        cb.errno = this.tunRoom <= 0 ? EAGAIN : EINVAL;
        break;
      }
      this.tunOut.push(packet);
      this.tunRoom--;
      done++;
    }
    cb.count = done;
    return done;
  }

  /** Offset and room of slot `i`, by slot table or stride, as the C side finds them. */
  private slot(cb: BatchControl, i: number): { at: number; room: number } {
    if (cb.slotsPtr) {
      const entry = cb.slotsPtr - this.base + i * SLOT_ENTRY_SIZE;
      return { at: Number(this.view.getBigUint64(entry, true)) - this.base, room: this.view.getUint32(entry + 8, true) };
    }
    return { at: cb.bufferPtr - this.base + i * cb.stride, room: cb.capacity || cb.stride };
  }

  private length(cb: BatchControl, i: number): number {
    return this.view.getUint32(cb.lengthsPtr - this.base + 4 * i, true);
  }

  private setLength(cb: BatchControl, i: number, len: number): void {
    this.view.setUint32(cb.lengthsPtr - this.base + 4 * i, len, true);
  }
}

/** The datagrams a GRO train was made of: `seg` bytes each, the last possibly shorter. */
function segments(d: Datagram): Datagram[] {
  const out: Datagram[] = [];
  for (let at = 0; at < d.bytes.length || at === 0; at += d.seg!) out.push({ bytes: d.bytes.subarray(at, at + d.seg!), peer: d.peer, local: d.local });
  return out;
}
