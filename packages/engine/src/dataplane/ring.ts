/**
 * A single-producer single-consumer ring in shared memory that carries handshake messages
 * (types 1-3) from a data-plane worker to the control plane. Each worker has two: the
 * ordinary one and a priority one for handshakes we know (handshake-guard.ts), drained
 * first. What is left of a flood after the worker's gate fills a ring and is dropped and
 * counted there, in the worker, without a message per packet reaching the main thread.
 *
 * Layout at `offset` (all u32, little-endian, 4-aligned):
 *   +0 head (next slot the producer writes)  +4 tail (next slot the consumer reads)
 *   +8 dropped                                +12 capacity (a power of two)
 *   +16 slots, each {@link RING_SLOT_SIZE} bytes:
 *       +0 u32 length  +4 source address record (24 bytes)
 *       +28 local address record (24 bytes: where it arrived)  +52 message bytes
 */

/** Bytes of one slot: room for the largest handshake message (148), its source and where it arrived. */
export const RING_SLOT_SIZE = 208;
const HEADER = 16;
const ADDR = 24;
const LOCAL = 4 + ADDR;
const DATA = LOCAL + ADDR;
/** Longest message a slot holds. */
export const RING_MAX_MESSAGE = RING_SLOT_SIZE - DATA;

/** Bytes a ring of `capacity` slots occupies. */
export function ringBytes(capacity: number): number {
  return HEADER + capacity * RING_SLOT_SIZE;
}

/** One message taken from the ring: its bytes, the 24-byte source address record, and the local address record of where it arrived (all zero: unknown). */
export interface RingMessage {
  data: Uint8Array;
  source: Uint8Array;
  local: Uint8Array;
}

/** Both ends of a ring; construct one view per thread over the same memory. */
export class HandshakeRing {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly capacity: number;
  private readonly slots: number;

  /**
   * @param buffer the shared memory's buffer
   * @param offset where the ring lives (4-aligned, {@link ringBytes} long)
   * @param capacity slots; pass it when creating the ring, omit it to attach to one
   */
  constructor(buffer: SharedArrayBuffer, offset: number, capacity?: number) {
    if (offset % 4 !== 0) throw new RangeError(`ring offset ${offset} is not 4-aligned`);
    this.words = new Int32Array(buffer, offset, HEADER / 4);
    if (capacity !== undefined) {
      if (capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity ${capacity} is not a power of two`);
      Atomics.store(this.words, 0, 0);
      Atomics.store(this.words, 1, 0);
      Atomics.store(this.words, 2, 0);
      Atomics.store(this.words, 3, capacity);
    }
    this.capacity = Atomics.load(this.words, 3);
    this.slots = offset + HEADER;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /**
   * Producer side: copies `length` bytes at `dataOffset`, the address record at
   * `addrOffset` and the local address record at `localOffset` (0: none) (all offsets into
   * the same shared memory) into the next slot. Returns
   * false, and counts a drop, when the ring is full or the message too long. The worker
   * rings the control plane's doorbell once per batch, not here.
   */
  push(dataOffset: number, length: number, addrOffset: number, localOffset = 0): boolean {
    const head = Atomics.load(this.words, 0);
    const tail = Atomics.load(this.words, 1);
    if (head - tail >= this.capacity || length > RING_MAX_MESSAGE || length < 0) {
      Atomics.add(this.words, 2, 1);
      return false;
    }
    const slot = this.slots + (head & (this.capacity - 1)) * RING_SLOT_SIZE;
    this.view.setUint32(slot, length, true);
    this.bytes.copyWithin(slot + 4, addrOffset, addrOffset + ADDR);
    if (localOffset === 0) this.bytes.fill(0, slot + LOCAL, slot + LOCAL + ADDR);
    else this.bytes.copyWithin(slot + LOCAL, localOffset, localOffset + ADDR);
    this.bytes.copyWithin(slot + DATA, dataOffset, dataOffset + length);
    Atomics.store(this.words, 0, (head + 1) | 0);
    return true;
  }

  /** Consumer side: takes every message waiting, oldest first. */
  drain(): RingMessage[] {
    const out: RingMessage[] = [];
    const head = Atomics.load(this.words, 0);
    let tail = Atomics.load(this.words, 1);
    while (tail !== head) {
      const slot = this.slots + (tail & (this.capacity - 1)) * RING_SLOT_SIZE;
      const length = this.view.getUint32(slot, true);
      out.push({
        source: this.bytes.slice(slot + 4, slot + 4 + ADDR),
        local: this.bytes.slice(slot + LOCAL, slot + LOCAL + ADDR),
        data: this.bytes.slice(slot + DATA, slot + DATA + length),
      });
      tail = (tail + 1) | 0;
      Atomics.store(this.words, 1, tail);
    }
    return out;
  }

  /** How full the ring is now, 0 to 1 (the control plane's sign of load, read before it drains). */
  get fill(): number {
    return ((Atomics.load(this.words, 0) - Atomics.load(this.words, 1)) | 0) / this.capacity;
  }

  /** Messages dropped because the ring was full or a message too long. */
  get dropped(): number {
    return Atomics.load(this.words, 2) >>> 0;
  }
}
