/**
 * Receiver indices (whitepaper §5.4.1): every handshake and keypair of ours is known to
 * the peer by a random 32-bit index that it puts in front of messages to us. Indices are
 * drawn with crypto.getRandomValues, never 0 (0 marks an empty slot of the shared lookup),
 * and never one in use.
 * @module
 */

/**
 * The control plane's map from the receiver indices of our pending handshakes to their
 * peers. Keypair indices live in the shared lookup (shared-tables.ts); `taken` tells the
 * allocator about those so an index is never in use twice.
 */
export class IndexTable<P> {
  private entries = new Map<number, P>();
  private random = new Uint32Array(1);

  constructor(private readonly taken: (index: number) => boolean = () => false) {}

  /** Register `entry` under a fresh random index and return the index. */
  allocate(entry: P): number {
    const index = this.fresh();
    this.entries.set(index, entry);
    return index;
  }

  /** A fresh random index, in use nowhere, without registering it (keypair indices). */
  fresh(): number {
    for (;;) {
      crypto.getRandomValues(this.random);
      const index = this.random[0];
      if (index !== 0 && !this.entries.has(index) && !this.taken(index)) return index;
    }
  }

  /** The entry of `index`, if any. */
  get(index: number): P | undefined {
    return this.entries.get(index);
  }

  /** Forget `index`. */
  delete(index: number): void {
    this.entries.delete(index);
  }

  /** Number of indices in use. */
  get size(): number {
    return this.entries.size;
  }
}
