/**
 * Receiver indices (whitepaper §5.4.1): every handshake and keypair of ours is known to
 * the peer by a random 32-bit index that it puts in front of messages to us. Indices are
 * drawn with crypto.getRandomValues, never 0 (0 marks an empty slot of the shared lookup),
 * and never one in use.
 * @module
 */

/** What an index refers to. */
export type IndexEntry<P> = { kind: "handshake"; peer: P } | { kind: "keypair"; peer: P; slot: number };

/** The control plane's map from our receiver indices to handshakes and keypairs. */
export class IndexTable<P> {
  private entries = new Map<number, IndexEntry<P>>();
  private random = new Uint32Array(1);

  /** Register `entry` under a fresh random index and return the index. */
  allocate(entry: IndexEntry<P>): number {
    for (;;) {
      crypto.getRandomValues(this.random);
      const index = this.random[0];
      if (index !== 0 && !this.entries.has(index)) {
        this.entries.set(index, entry);
        return index;
      }
    }
  }

  /** The entry of `index`, if any. */
  get(index: number): IndexEntry<P> | undefined {
    return this.entries.get(index);
  }

  /** Re-point an existing index (a handshake index becoming a keypair's). */
  set(index: number, entry: IndexEntry<P>): void {
    this.entries.set(index, entry);
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
