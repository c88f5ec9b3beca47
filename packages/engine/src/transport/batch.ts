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
 * The work is split like wireguard-go's send.go / receive.go: `seal.ts` (prepareSeal) and
 * `open.ts` (prepareOpen, finishOpen); this file holds the batch and what both share.
 * @module
 */

/**
 * Why a received datagram was not delivered, in the order of the worker's counters
 * (stats.ts lays them out as one run, so {@link TransportBatch.drops} can be a view of them).
 * Handshake messages (types 1-3) are not transport data: the worker hands them to the
 * control plane before this path, which skips them without counting.
 */
export const RX_DROP_NAMES = [
  /** Shorter than a message type (4 bytes), or a type-4 message shorter than 32 bytes. */
  "droppedShort",
  /** Not a WireGuard message type (or its reserved bytes are not zero). */
  "droppedType",
  /** Receiver index unknown, or its keypair expired, retired or older than REJECT_AFTER_TIME. */
  "droppedNoKeypair",
  /** Counter at or above REJECT_AFTER_MESSAGES. */
  "droppedCounterLimit",
  /** The AEAD tag did not verify: forged, corrupted, or sealed with another key. */
  "droppedAuth",
  /** Authentic, but its counter was already seen or is behind the replay window. */
  "droppedReplay",
  /** Authentic, but the plaintext is not a well-formed IPv4/IPv6 packet. */
  "droppedMalformed",
  /** Authentic, but its inner source address is not an allowed IP of the peer that sent it. */
  "droppedSource",
  /** Not a drop: an authentic keepalive, which has nothing to deliver. */
  "keepalivesReceived",
] as const;

/** Index of each reason in `TransportBatch.drops`. */
export const RX_DROP = Object.fromEntries(RX_DROP_NAMES.map((n, i) => [n, i])) as Record<(typeof RX_DROP_NAMES)[number], number>;

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
  /** Open: address of each datagram's local address record (LOCAL_BYTES: where it arrived), 0 = unknown. */
  locals: Uint32Array;
  /** 4-aligned address of room for `count` wasm-crypto descriptors. */
  descPtr: number;
  /** Scratch: descriptor j belongs to packet descPacket[j]. */
  descPacket: Int32Array;
  /** Padding never grows a plaintext beyond this (the tunnel MTU). */
  mtu: number;
  /**
   * Open: counters by reason (indices: {@link RX_DROP}) of every datagram that
   * was not delivered; the worker's view of its shared stats, or a plain array in tests.
   */
  drops: Int32Array<ArrayBufferLike>;
}

/** Allocate a batch of `capacity` packets with its descriptor area at `descPtr`. */
export function createTransportBatch(capacity: number, descPtr: number, mtu = 1420, drops: Int32Array<ArrayBufferLike> = new Int32Array(RX_DROP_NAMES.length)): TransportBatch {
  return {
    count: 0,
    data: new Uint32Array(capacity),
    lengths: new Uint32Array(capacity),
    peers: new Int32Array(capacity),
    sources: new Uint32Array(capacity),
    locals: new Uint32Array(capacity),
    descPtr,
    descPacket: new Int32Array(capacity),
    mtu,
    drops,
  };
}
