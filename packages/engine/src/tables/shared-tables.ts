/**
 * The tables the control plane shares with the data-plane workers, in one caller-provided
 * region of a SharedArrayBuffer or of the shared WebAssembly.Memory's buffer (so the WASM
 * AEAD can read keys in place). This module owns the region's layout; each record has its
 * own module: peer-slot.ts, keypair-slot.ts, receiver-index.ts, cookie-record.ts. All fields are
 * little-endian, offsets relative to the 8-aligned region base.
 *
 * ```
 * header    64 B    magic "TTS1", version, peerCapacity, keypairCapacity, indexCapacity
 * cookie    COOKIE_RECORD_BYTES (128)                   cookie-record.ts
 * peers     peerCapacity    x PEER_SLOT_BYTES (128)     peer-slot.ts
 * keypairs  keypairCapacity x KEYPAIR_SLOT_BYTES (704)  keypair-slot.ts
 * index     indexCapacity   x 8 B                       receiver-index.ts
 * ```
 *
 * Every slot is empty when zeroed. Locks are spin locks on one word, held for a few dozen
 * instructions.
 * @module
 */
import { ADDR_SIZE } from "@taltun/io-shim/address";
import { LayoutError } from "../protocol/errors.js";

export const HEADER_BYTES = 64;
/** Bytes of the cookie record (cookie-record.ts), right after the header. */
export const COOKIE_RECORD_BYTES = 128;
export const PEER_SLOT_BYTES = 128;
export const KEYPAIR_SLOT_BYTES = 704;
export const INDEX_ENTRY_BYTES = 8;
/** Bytes of an endpoint record: io-shim's address record. */
export const ENDPOINT_BYTES = ADDR_SIZE;
const MAGIC = 0x31535454; // "TTS1"
const VERSION = 2;

/** Capacities of a region. */
export interface TableCapacity {
  peers: number;
  keypairs: number;
}

/**
 * The peers a running interface has room for unless its configuration has more: wg allows
 * 10,000 and more, and peers added at run time (`wg set`, `wg setconf`) must find a slot.
 * The tables are reserved at this size up front: about 39 MB of address space at 16,384,
 * of which {@link SharedTables.create} writes only the peer slots and the receiver index
 * (4 MB); the keypair slots (35 MB) are zeroed by the KeypairStore when first handed out,
 * lowest first, so memory the kernel never had to hand over costs nothing.
 */
export const MAX_PEERS = 16384;

/**
 * Table sizes for `peers` peers: three keypair slots each (current, previous, next;
 * whitepaper §5.4.6), and 16 for handshakes completing while slots wait out RETIRE_GRACE.
 * The receiver index gets a power of two of at least four entries per keypair.
 */
export function tableCapacity(peers: number = MAX_PEERS): TableCapacity {
  return { peers, keypairs: peers * 3 + 16 };
}

function indexCapacityFor(keypairs: number): number {
  let n = 16;
  while (n < keypairs * 4) n *= 2;
  return n;
}

/** Bytes a region needs for `cap`. */
export function sharedTablesSize(cap: TableCapacity): number {
  return HEADER_BYTES + COOKIE_RECORD_BYTES + cap.peers * PEER_SLOT_BYTES + cap.keypairs * KEYPAIR_SLOT_BYTES + indexCapacityFor(cap.keypairs) * INDEX_ENTRY_BYTES;
}

/** Views and addressing over one region. Workers get one with {@link SharedTables.attach}. */
export class SharedTables {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly f64: Float64Array;
  readonly peerCapacity: number;
  readonly keypairCapacity: number;
  readonly indexCapacity: number;
  private readonly cookieBase: number;
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
    this.cookieBase = base + HEADER_BYTES;
    this.peerBase = this.cookieBase + COOKIE_RECORD_BYTES;
    this.keypairBase = this.peerBase + this.peerCapacity * PEER_SLOT_BYTES;
    this.indexBase = this.keypairBase + this.keypairCapacity * KEYPAIR_SLOT_BYTES;
  }

  /**
   * Format a region (control plane, once) and return its views: the header, peer slots and
   * receiver index are zeroed; keypair slots are left for the KeypairStore to zero when it
   * first hands each out (none is reachable before: only the index and peer slots lead to one).
   */
  static create(buffer: ArrayBufferLike, base: number, cap: TableCapacity): SharedTables {
    const size = sharedTablesSize(cap);
    if (base < 0 || base + size > buffer.byteLength) throw new LayoutError(`region needs ${size} bytes at ${base}, buffer has ${buffer.byteLength}`);
    if (cap.peers < 1 || cap.keypairs < 3) throw new LayoutError("need at least one peer and three keypairs");
    const keypairs = base + HEADER_BYTES + COOKIE_RECORD_BYTES + cap.peers * PEER_SLOT_BYTES;
    new Uint8Array(buffer, base, keypairs - base).fill(0);
    new Uint8Array(buffer, keypairs + cap.keypairs * KEYPAIR_SLOT_BYTES, size - (keypairs - base) - cap.keypairs * KEYPAIR_SLOT_BYTES).fill(0);
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

  /** Absolute byte address of the cookie record (for cookie-record.ts). */
  get cookieRecord(): number {
    return this.cookieBase;
  }

  /** Int32 index of word `field` of keypair slot `slot`. */
  keypairWord(slot: number, field: number): number {
    return (this.keypairBase + slot * KEYPAIR_SLOT_BYTES) / 4 + field;
  }

  /** Absolute byte address of byte `offset` of keypair slot `slot` (for keypair-slot.ts). */
  keypairByte(slot: number, offset: number): number {
    return this.keypairBase + slot * KEYPAIR_SLOT_BYTES + offset;
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

  /** Int32 index of the first word of the receiver-index table. */
  get indexWord(): number {
    return this.indexBase / 4;
  }
}
