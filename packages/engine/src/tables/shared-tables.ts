/**
 * The tables the control plane shares with the data-plane workers, in one caller-provided
 * region of a SharedArrayBuffer or of the shared WebAssembly.Memory's buffer (so the WASM
 * AEAD can read keys in place). All fields are little-endian; offsets below are relative to
 * the region base (8-aligned). Word = Int32; "u32" fields are stored as Int32 and read
 * with `>>> 0`.
 *
 * ```
 * header    64 B    magic "TTS1", version, peerCapacity, keypairCapacity, indexCapacity
 * peers     peerCapacity    x PEER_SLOT_BYTES (128)
 * keypairs  keypairCapacity x KEYPAIR_SLOT_BYTES (704)
 * index     indexCapacity   x 8 B: [receiver index u32 (0 = empty), keypair slot (-1 = deleted)]
 * ```
 *
 * Every slot is empty when zeroed: references to other slots are stored as slot + 1, so
 * 0 means none, and a zero-filled peer or keypair slot points at nothing (read and write
 * them through {@link SharedTables.keypairOf} and {@link SharedTables.peerOf}).
 *
 * Peer slot words (P_*): lock, flags (IN_USE, WANT_HANDSHAKE), current/previous/next
 * keypair slot, tx/rx byte counters (lo, hi), tx/rx packet counters (all
 * authenticated packets, and data packets = non-keepalive), promotions (next -> current by
 * workers), endpoint sequence (even = stable), generation (bumped each time the slot is
 * given to a peer, so a packet held for a removed peer is never sent to its successor) and
 * a 24-byte endpoint record (io-shim address record) at byte 64.
 *
 * Keypair slot words (K_*): replay lock, send lock, flags (VALID, SEND_ALLOWED, INITIATOR,
 * EXPIRED, REKEY_REQUESTED), owning peer slot, local index, remote index, send counter
 * (lo, hi), created-at (float64 ms of the monotonic clock, at byte 32), send key at byte 64,
 * receive key at byte 96, replay window (REPLAY_WORDS words) at byte 128.
 *
 * Who writes what: the control plane writes keys, indices, created-at and the index table,
 * and sets/clears VALID and EXPIRED; workers reserve send counters (under the send lock),
 * update replay windows (under the replay lock), bump counters with Atomics.add, set
 * WANT_HANDSHAKE, write the endpoint record (under the peer lock with the sequence) and
 * promote next -> current (under the peer lock).
 * @module
 */
import { ADDR_SIZE } from "@taltun/io-shim/address";
import { KEY_SIZE } from "../protocol/constants.js";
import { LayoutError } from "../protocol/errors.js";
import { REPLAY_WORDS } from "../protocol/replay.js";

export const HEADER_BYTES = 64;
export const PEER_SLOT_BYTES = 128;
export const KEYPAIR_SLOT_BYTES = 704;
export const INDEX_ENTRY_BYTES = 8;
/** Bytes of an endpoint record: io-shim's address record. */
export const ENDPOINT_BYTES = ADDR_SIZE;
const MAGIC = 0x31535454; // "TTS1"
const VERSION = 1;

/** Peer slot word offsets. */
export const P_LOCK = 0;
export const P_FLAGS = 1;
export const P_CURRENT = 2;
export const P_PREVIOUS = 3;
export const P_NEXT = 4;
export const P_TX_BYTES_LO = 5;
export const P_TX_BYTES_HI = 6;
export const P_RX_BYTES_LO = 7;
export const P_RX_BYTES_HI = 8;
export const P_TX_PACKETS = 9;
export const P_TX_DATA = 10;
export const P_RX_PACKETS = 11;
export const P_RX_DATA = 12;
export const P_PROMOTIONS = 13;
export const P_ENDPOINT_SEQ = 14;
export const P_GENERATION = 15;
/** Byte offset of the endpoint record in a peer slot. */
export const P_ENDPOINT_BYTE = 64;

/** Peer flags. */
export const PEER_IN_USE = 1;
export const PEER_WANT_HANDSHAKE = 2;

/** Keypair slot word offsets. */
export const K_LOCK = 0;
export const K_SEND_LOCK = 1;
export const K_FLAGS = 2;
export const K_PEER = 3;
export const K_LOCAL_INDEX = 4;
export const K_REMOTE_INDEX = 5;
export const K_SEND_LO = 6;
export const K_SEND_HI = 7;
/** Float64 index offset (in 8-byte units) of created-at within a slot: byte 32. */
export const K_CREATED_BYTE = 32;
export const K_SEND_KEY_BYTE = 64;
export const K_RECV_KEY_BYTE = 96;
/** Word offset of the replay window. */
export const K_REPLAY = 32;

// The replay window must fit in its slot (guards edits of REPLAY_RING_WORDS).
if ((K_REPLAY + REPLAY_WORDS) * 4 > KEYPAIR_SLOT_BYTES) throw new LayoutError("replay window does not fit a keypair slot");

/** Keypair flags. */
export const KP_VALID = 1;
export const KP_SEND_ALLOWED = 2;
export const KP_INITIATOR = 4;
export const KP_EXPIRED = 8;
export const KP_REKEY_REQUESTED = 16;

/** The peer words that refer to a keypair slot. */
export type KeypairField = typeof P_CURRENT | typeof P_PREVIOUS | typeof P_NEXT;

/** Capacities of a region. */
export interface TableCapacity {
  peers: number;
  keypairs: number;
}

function indexCapacityFor(keypairs: number): number {
  let n = 16;
  while (n < keypairs * 4) n *= 2;
  return n;
}

/** Bytes a region needs for `cap`. */
export function sharedTablesSize(cap: TableCapacity): number {
  return HEADER_BYTES + cap.peers * PEER_SLOT_BYTES + cap.keypairs * KEYPAIR_SLOT_BYTES + indexCapacityFor(cap.keypairs) * INDEX_ENTRY_BYTES;
}

/** Views and addressing over one region. Workers get one with {@link SharedTables.attach}. */
export class SharedTables {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly f64: Float64Array;
  readonly peerCapacity: number;
  readonly keypairCapacity: number;
  readonly indexCapacity: number;
  private readonly peerBase: number;
  private readonly keypairBase: number;
  private readonly indexBase: number;

  private constructor(
    readonly buffer: ArrayBufferLike,
    readonly base: number,
  ) {
    if (base % 8 !== 0) throw new LayoutError("region base must be 8-byte aligned");
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer);
    const h = base / 4;
    if (this.i32[h] !== MAGIC || this.i32[h + 1] !== VERSION) throw new LayoutError("no Taltun tables at this address");
    this.peerCapacity = this.i32[h + 2];
    this.keypairCapacity = this.i32[h + 3];
    this.indexCapacity = this.i32[h + 4];
    this.peerBase = base + HEADER_BYTES;
    this.keypairBase = this.peerBase + this.peerCapacity * PEER_SLOT_BYTES;
    this.indexBase = this.keypairBase + this.keypairCapacity * KEYPAIR_SLOT_BYTES;
  }

  /** Format a region (control plane, once) and return its views. */
  static create(buffer: ArrayBufferLike, base: number, cap: TableCapacity): SharedTables {
    const size = sharedTablesSize(cap);
    if (base < 0 || base + size > buffer.byteLength) throw new LayoutError(`region needs ${size} bytes at ${base}, buffer has ${buffer.byteLength}`);
    if (cap.peers < 1 || cap.keypairs < 3) throw new LayoutError("need at least one peer and three keypairs");
    new Uint8Array(buffer, base, size).fill(0);
    const h = new Int32Array(buffer, base, 8);
    h.set([MAGIC, VERSION, cap.peers, cap.keypairs, indexCapacityFor(cap.keypairs)]);
    return new SharedTables(buffer, base);
  }

  /** Views over a region formatted by {@link create} (workers). */
  static attach(buffer: ArrayBufferLike, base: number): SharedTables {
    return new SharedTables(buffer, base);
  }

  /** Int32 index of word `field` of peer slot `peer`. */
  peerWord(peer: number, field: number): number {
    return (this.peerBase + peer * PEER_SLOT_BYTES) / 4 + field;
  }

  /** The keypair slot `field` (P_CURRENT, P_PREVIOUS or P_NEXT) of `peer` refers to, -1 for none. */
  keypairOf(peer: number, field: KeypairField): number {
    return Atomics.load(this.i32, this.peerWord(peer, field)) - 1;
  }

  /** Point `field` of `peer` at keypair slot `slot` (-1: none). Callers hold the peer lock. */
  setKeypairOf(peer: number, field: KeypairField, slot: number): void {
    Atomics.store(this.i32, this.peerWord(peer, field), slot + 1);
  }

  /** The peer slot that owns keypair slot `slot`, -1 for none. */
  peerOf(slot: number): number {
    return Atomics.load(this.i32, this.keypairWord(slot, K_PEER)) - 1;
  }

  /** Record `peer` as the owner of keypair slot `slot` (control plane). */
  setPeerOf(slot: number, peer: number): void {
    Atomics.store(this.i32, this.keypairWord(slot, K_PEER), peer + 1);
  }

  /**
   * Give peer slot `peer` to a new peer (control plane): every word zeroed (no keypairs,
   * counters 0, no endpoint), IN_USE set and the generation bumped. The lock word is left
   * alone: a worker still finishing a batch for the old peer releases it.
   */
  claimPeer(peer: number): void {
    const start = this.peerWord(peer, 0);
    const generation = this.i32[start + P_GENERATION];
    this.i32.fill(0, start + P_LOCK + 1, start + PEER_SLOT_BYTES / 4);
    Atomics.store(this.i32, start + P_GENERATION, (generation + 1) | 0);
    Atomics.store(this.i32, start + P_FLAGS, PEER_IN_USE);
  }

  /** The generation of peer slot `peer` (see {@link claimPeer}). */
  generation(peer: number): number {
    return Atomics.load(this.i32, this.peerWord(peer, P_GENERATION));
  }

  /** Absolute byte address of the endpoint record of `peer`. */
  endpointAddress(peer: number): number {
    return this.peerBase + peer * PEER_SLOT_BYTES + P_ENDPOINT_BYTE;
  }

  /** Int32 index of word `field` of keypair slot `slot`. */
  keypairWord(slot: number, field: number): number {
    return (this.keypairBase + slot * KEYPAIR_SLOT_BYTES) / 4 + field;
  }

  /** Absolute byte address of byte `offset` of keypair slot `slot` (keys: K_*_KEY_BYTE). */
  keypairByte(slot: number, offset: number): number {
    return this.keypairBase + slot * KEYPAIR_SLOT_BYTES + offset;
  }

  /** Float64 index of the created-at time of `slot`. */
  createdAtIndex(slot: number): number {
    return this.keypairByte(slot, K_CREATED_BYTE) / 8;
  }

  /** Copy a key into a slot (control plane). */
  writeKey(slot: number, offset: typeof K_SEND_KEY_BYTE | typeof K_RECV_KEY_BYTE, key: Uint8Array): void {
    this.u8.set(key.subarray(0, KEY_SIZE), this.keypairByte(slot, offset));
  }

  /** Spin until the lock word at Int32 index `word` is ours. Critical sections are a few dozen instructions. */
  lock(word: number): void {
    while (Atomics.compareExchange(this.i32, word, 0, 1) !== 0) {
      // Another thread holds it for a handful of instructions: just retry.
    }
  }

  /** Release a lock taken with {@link lock}. */
  unlock(word: number): void {
    Atomics.store(this.i32, word, 0);
  }

  /** The keypair slot registered for receiver index `index`, or -1. Lock-free, allocation-free. */
  lookupIndex(index: number): number {
    const mask = this.indexCapacity - 1;
    const base = this.indexBase / 4;
    for (let i = 0, at = index & mask; i < this.indexCapacity; i++, at = (at + 1) & mask) {
      const key = Atomics.load(this.i32, base + 2 * at);
      if (key === 0) return -1;
      if (key === (index | 0)) return Atomics.load(this.i32, base + 2 * at + 1);
    }
    return -1;
  }

  /** Register `index` (non-zero) -> `slot` (control plane only). */
  insertIndex(index: number, slot: number): void {
    if (index === 0) throw new LayoutError("receiver index 0 is reserved");
    const mask = this.indexCapacity - 1;
    const base = this.indexBase / 4;
    for (let i = 0, at = index & mask; i < this.indexCapacity; i++, at = (at + 1) & mask) {
      const key = this.i32[base + 2 * at];
      if (key === 0 || key === (index | 0) || this.i32[base + 2 * at + 1] === -1) {
        // Slot before key: a reader that sees the key sees the right slot.
        Atomics.store(this.i32, base + 2 * at + 1, slot);
        Atomics.store(this.i32, base + 2 * at, index | 0);
        return;
      }
    }
    throw new LayoutError("receiver index table full");
  }

  /** Unregister `index` (control plane only). */
  removeIndex(index: number): void {
    const mask = this.indexCapacity - 1;
    const base = this.indexBase / 4;
    for (let i = 0, at = index & mask; i < this.indexCapacity; i++, at = (at + 1) & mask) {
      const key = this.i32[base + 2 * at];
      if (key === 0) return;
      if (key === (index | 0)) {
        Atomics.store(this.i32, base + 2 * at + 1, -1);
        // The end of a probe chain can become empty again; inner entries stay tombstones.
        if (this.i32[base + 2 * ((at + 1) & mask)] === 0) Atomics.store(this.i32, base + 2 * at, 0);
        return;
      }
    }
  }
}

