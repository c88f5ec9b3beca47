/**
 * The GRO area of a udp recv batch on a UDP_GRO socket ({@link BatchControl.groPtr}):
 * caller-owned memory where C receives whole datagrams, GRO trains of several transport
 * messages among them, before it cuts them into the batch's slots one segment per slot
 * (each with its train's sender and local address). Segments that do not fit the batch's
 * slots stay in the area and come first in the next call, so nothing is lost or reordered.
 *
 * Layout (little-endian; csrc/taltun_io.h holds the C side with its _Static_asserts):
 *
 * | offset | size | what |
 * |---|---|---|
 * | 0 | u32 | buffers: receive buffers, 1..{@link GRO_MAX_BUFFERS} (the caller sets it) |
 * | 4 | u32 | bufSize: bytes of each (the caller sets it; 65536 takes any datagram) |
 * | 8 | u32 | held: datagrams received and not yet all handed out (C's state) |
 * | 12 | u32 | next: the first of them not wholly handed out (C's state) |
 * | 16 | u32 | offset: its bytes handed out already (C's state) |
 * | 32 | 56 × 64 | one record per buffer: length, segment size, sender (24), local address (24) |
 * | {@link GRO_DATA} | buffers × bufSize | the receive buffers |
 * @module
 */
import type { WasmMemory } from "./batch.js";

/** Most receive buffers of a GRO area (one recvmmsg takes at most this many datagrams). */
export const GRO_MAX_BUFFERS = 64;
/** Offset of the first receive buffer in a GRO area. */
export const GRO_DATA = 4096;
/** A receive buffer that takes any UDP datagram, and so any GRO train, whole. */
export const GRO_BUFFER_BYTES = 65536;

/** Bytes of a GRO area of `buffers` buffers of `bufSize` bytes. */
export function groAreaBytes(buffers: number, bufSize = GRO_BUFFER_BYTES): number {
  return GRO_DATA + buffers * bufSize;
}

/**
 * Prepares a GRO area at `offset` (it must hold {@link groAreaBytes}): sets its buffers and
 * their size and clears C's state (anything held is forgotten). Once per socket's life;
 * afterwards only C writes it.
 *
 * @example
 * initGroArea(memory, groOffset, 4);
 * cb.setup({ fd, count: 64, buffer: slots, stride: 2048, lengths, addrs, gro: groOffset });
 */
export function initGroArea(memory: WasmMemory, offset: number, buffers: number, bufSize = GRO_BUFFER_BYTES): void {
  if (!Number.isInteger(buffers) || buffers < 1 || buffers > GRO_MAX_BUFFERS) {
    throw new RangeError(`initGroArea: buffers must be an integer in [1, ${GRO_MAX_BUFFERS}], got ${buffers}`);
  }
  if (!Number.isInteger(bufSize) || bufSize < 1 || bufSize > 0x7fffffff) throw new RangeError(`initGroArea: bufSize ${bufSize} is not a positive integer`);
  const size = groAreaBytes(buffers, bufSize);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 8 !== 0 || offset + size > memory.buffer.byteLength) {
    throw new RangeError(`initGroArea: [${offset}, ${offset + size}) is not an 8-aligned region inside the memory`);
  }
  new Uint8Array(memory.buffer, offset, GRO_DATA).fill(0);
  const view = new DataView(memory.buffer, offset, 8);
  view.setUint32(0, buffers, true);
  view.setUint32(4, bufSize, true);
}
