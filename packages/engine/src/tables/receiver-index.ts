/**
 * The receiver-index table (whitepaper §5.4.2, §5.4.6): our 32-bit receiver index of each
 * live keypair -> its keypair slot. Open addressing with linear probing over the table's
 * region, entries of two words [index (0 = empty), keypair slot (-1 = deleted,
 * {@link PENDING_INDEX} = the index of a pending initiation of ours, no keypair yet)].
 * Workers look up lock-free; only the control plane inserts and removes. Pending
 * initiations are here so that a worker can tell a response or cookie reply to a handshake
 * of ours from a flood's, and give it precedence, without asking the control plane.
 * @module
 */
import { LayoutError } from "../protocol/errors.js";
import type { SharedTables } from "./shared-tables.js";

/** What {@link lookupIndex} answers for the index of a pending initiation (not a keypair: every caller that wants one tests `>= 0`). */
export const PENDING_INDEX = -2;

/** The keypair slot registered for receiver index `index`, {@link PENDING_INDEX}, or -1. Lock-free, allocation-free. */
export function lookupIndex(t: SharedTables, index: number): number {
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  for (let i = 0, at = index & mask; i < t.indexCapacity; i++, at = (at + 1) & mask) {
    const key = Atomics.load(t.i32, base + 2 * at);
    if (key === 0) return -1;
    if (key === (index | 0)) return Atomics.load(t.i32, base + 2 * at + 1);
  }
  return -1;
}

/** Register `index` (non-zero) -> `slot`, or {@link PENDING_INDEX} (control plane only). */
export function insertIndex(t: SharedTables, index: number, slot: number): void {
  if (index === 0) throw new LayoutError("receiver index 0 is reserved");
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  for (let i = 0, at = index & mask; i < t.indexCapacity; i++, at = (at + 1) & mask) {
    const key = t.i32[base + 2 * at];
    if (key === 0 || key === (index | 0) || t.i32[base + 2 * at + 1] === -1) {
      // Slot before key: a reader that sees the key sees the right slot.
      Atomics.store(t.i32, base + 2 * at + 1, slot);
      Atomics.store(t.i32, base + 2 * at, index | 0);
      return;
    }
  }
  throw new LayoutError("receiver index table full");
}

/** Unregister `index` (control plane only). */
export function removeIndex(t: SharedTables, index: number): void {
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  for (let i = 0, at = index & mask; i < t.indexCapacity; i++, at = (at + 1) & mask) {
    const key = t.i32[base + 2 * at];
    if (key === 0) return;
    if (key === (index | 0)) {
      Atomics.store(t.i32, base + 2 * at + 1, -1);
      // The end of a probe chain can become empty again; inner entries stay tombstones.
      if (t.i32[base + 2 * ((at + 1) & mask)] === 0) Atomics.store(t.i32, base + 2 * at, 0);
      return;
    }
  }
}
