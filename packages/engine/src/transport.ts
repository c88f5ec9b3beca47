/**
 * The transport-data path (whitepaper §5.4.6) as the data-plane workers run it, one call
 * per BATCH, allocating nothing per packet. Packets stay where they are in the shared
 * memory; these functions only write headers, padding and wasm-crypto descriptors, and
 * judge the results:
 *
 * ```
 * seal:  n = prepareSeal(tables, batch, now);  aead.sealBatch(batch.descPtr, n)
 *        -> datagram i at data[i] - 16, lengths[i] bytes (0: not sendable now)
 * open:  n = prepareOpen(tables, batch, now);  aead.openBatch(batch.descPtr, n)
 *        accepted = finishOpen(tables, batch, n, allowedIps)
 *        -> inner packet i at data[i] + 16, lengths[i] bytes, from peer slot peers[i]
 * ```
 *
 * Counters are reserved under the keypair's send lock so workers never reuse one; the
 * replay window is updated under its lock only after the tag verified; the responder's
 * `next` keypair is promoted to `current` on its first authenticated packet.
 *
 * The work is split like wireguard-go's send.go / receive.go: `send.ts` (prepareSeal) and
 * `receive.ts` (prepareOpen, finishOpen); this file holds the batch and what both share.
 * @module
 */
import { DESC_SIZE } from "./_aead.js";
import { ENDPOINT_BYTES, P_ENDPOINT_SEQ, type SharedTables } from "./shared-tables.js";

/** @internal REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1 as (hi, lo): a counter must stay below it. */
export const REJECT_HI = 0xffffffff;
export const REJECT_LO = 0xffffdfff;

/**
 * One batch, owned and reused by a worker (the arrays may be views of shared memory).
 * All addresses are byte offsets in the shared buffer the tables live in.
 */
export interface TransportBatch {
  /** Packets in this batch (<= the arrays' length). */
  count: number;
  /** Seal: plaintext address (16 bytes of headroom before it, padding + 16 after). Open: datagram address. */
  data: Uint32Array;
  /** Seal: in plaintext length, out datagram length (0 = no usable keypair). Open: in datagram length, out inner length (0 = dropped or keepalive). */
  lengths: Uint32Array;
  /** Seal: in peer slot. Open: out peer slot of an authenticated packet, -1 when dropped. */
  peers: Int32Array;
  /** Open: address of each datagram's source endpoint record (ENDPOINT_BYTES), 0 = unknown. */
  sources: Uint32Array;
  /** 4-aligned address of room for `count` wasm-crypto descriptors. */
  descPtr: number;
  /** Scratch: descriptor j belongs to packet descPacket[j]. */
  descPacket: Int32Array;
  /** Padding never grows a plaintext beyond this (the tunnel MTU). */
  mtu: number;
}

/** Allocate a batch of `capacity` packets with its descriptor area at `descPtr`. */
export function createTransportBatch(capacity: number, descPtr: number, mtu = 1420): TransportBatch {
  return {
    count: 0,
    data: new Uint32Array(capacity),
    lengths: new Uint32Array(capacity),
    peers: new Int32Array(capacity),
    sources: new Uint32Array(capacity),
    descPtr,
    descPacket: new Int32Array(capacity),
    mtu,
  };
}

/** @internal Fill descriptor `j` of the batch's descriptor area. */
export function writeDesc(i32: Int32Array, descPtr: number, j: number, keyPtr: number, lo: number, hi: number, data: number, length: number): void {
  const w = (descPtr + j * DESC_SIZE) >> 2;
  i32[w] = keyPtr;
  i32[w + 1] = lo;
  i32[w + 2] = hi;
  i32[w + 3] = data;
  i32[w + 4] = length;
  i32[w + 5] = 0;
}

/** @internal Add n to a (lo, hi) u32 pair of counters; the adder that wraps lo carries into hi. */
export function add64(i32: Int32Array, loWord: number, n: number): void {
  const old = Atomics.add(i32, loWord, n) >>> 0;
  if (old + n > 0xffffffff) Atomics.add(i32, loWord + 1, 1);
}

/**
 * Copy peer `peer`'s current endpoint record (ENDPOINT_BYTES, io-shim's address record) to byte
 * address `dst` of the shared buffer, e.g. into a sendmmsg header; false when the peer has
 * none yet (family 0). Consistent even while a worker or the control plane rewrites it.
 */
export function copyEndpoint(t: SharedTables, peer: number, dst: number): boolean {
  const seq = t.peerWord(peer, P_ENDPOINT_SEQ);
  const src = t.endpointAddress(peer);
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    t.u8.copyWithin(dst, src, src + ENDPOINT_BYTES);
    if (Atomics.load(t.i32, seq) === before) return t.u8[dst] !== 0;
  }
}
