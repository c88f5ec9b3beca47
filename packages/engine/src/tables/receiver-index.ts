/**
 * The receiver-index table (whitepaper §5.4.2, §5.4.6): our 32-bit receiver index of each
 * live keypair -> its keypair slot. Open addressing with linear probing over the table's
 * region, entries of two words [index (0 = empty), keypair slot (-1 = deleted,
 * {@link PENDING_INDEX} = the index of a pending initiation of ours, no keypair yet)].
 * Workers look up lock-free; only the control plane inserts and removes. Pending
 * initiations are here so that a worker can tell a response or cookie reply to a handshake
 * of ours from a flood's, and give it precedence, without asking the control plane.
 *
 * Entries never move, so a lock-free reader never misses a live index while the table
 * changes. The invariant that keeps lookups short: no live entry lies beyond an empty
 * word of its probe chain. Removal keeps it and still leaves no tombstones at the end of a
 * cluster: an entry is emptied only when the word after it is empty, and then every
 * tombstone just before it is emptied too. Tombstones remain only inside clusters that
 * still hold live entries, and inserts reuse them, so churn does not fill the table.
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

/** The entry of `index` in its probe chain (live or tombstone), or -1. */
function findEntry(t: SharedTables, index: number): number {
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  for (let i = 0, at = index & mask; i < t.indexCapacity; i++, at = (at + 1) & mask) {
    const key = t.i32[base + 2 * at];
    if (key === 0) return -1;
    if (key === (index | 0)) return at;
  }
  return -1;
}

/** Register `index` (non-zero) -> `slot`, or {@link PENDING_INDEX} (control plane only); an existing entry is updated. */
export function insertIndex(t: SharedTables, index: number, slot: number): void {
  if (index === 0) throw new LayoutError("receiver index 0 is reserved");
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  // Updating in place keeps one entry per index, even when a tombstone comes first.
  let at = findEntry(t, index);
  if (at < 0) {
    at = index & mask;
    let i = 0;
    for (; i < t.indexCapacity; i++, at = (at + 1) & mask) {
      if (t.i32[base + 2 * at] === 0 || t.i32[base + 2 * at + 1] === -1) break;
    }
    if (i === t.indexCapacity) throw new LayoutError("receiver index table full");
  }
  // Slot before key: a reader that sees the key sees the right slot.
  Atomics.store(t.i32, base + 2 * at + 1, slot);
  Atomics.store(t.i32, base + 2 * at, index | 0);
}

/** Unregister `index` (control plane only). */
export function removeIndex(t: SharedTables, index: number): void {
  const at = findEntry(t, index);
  if (at < 0) return;
  const mask = t.indexCapacity - 1;
  const base = t.indexWord;
  Atomics.store(t.i32, base + 2 * at + 1, -1);
  if (t.i32[base + 2 * ((at + 1) & mask)] !== 0) return; // inside a cluster: stays a tombstone
  // At a cluster's end: empty it and the tombstones before it, back to a live entry.
  for (let k = at, n = 0; n < t.indexCapacity; k = (k - 1) & mask, n++) {
    if (t.i32[base + 2 * k] === 0 || t.i32[base + 2 * k + 1] !== -1) break;
    Atomics.store(t.i32, base + 2 * k, 0);
  }
}

/** Words of the table that hold a tombstone (for tests and diagnostics). */
export function countTombstones(t: SharedTables): number {
  let n = 0;
  for (let at = 0; at < t.indexCapacity; at++) {
    if (t.i32[t.indexWord + 2 * at] !== 0 && t.i32[t.indexWord + 2 * at + 1] === -1) n++;
  }
  return n;
}
