/**
 * Anti-replay sliding window (RFC 6479, as WireGuard uses it, whitepaper §5.4.6): a ring
 * of REPLAY_RING_WORDS 32-bit words with the highest counter seen. A counter is accepted
 * once, when it is newer than the highest, or at most REPLAY_WINDOW_SIZE behind it and not
 * seen before; reordering inside the window is fine. Call it only AFTER the packet has
 * authenticated, so a forged counter can never move the window.
 *
 * The state lives in an Int32Array at a base index so the same code runs on a private
 * array or on a slot of shared memory (the caller then holds the slot's lock). 64-bit
 * counters are handled as (lo, hi) u32 halves so no BigInt is allocated per packet.
 * @module
 */
import { REPLAY_RING_WORDS, REPLAY_WINDOW_SIZE } from "./constants.js";

/** Int32 words a window occupies: highest counter (lo, hi) then the ring. */
export const REPLAY_WORDS = 2 + REPLAY_RING_WORDS;
const MASK = REPLAY_RING_WORDS - 1;

/** Forget everything: the next counter (even 0) is accepted. */
export function replayReset(words: Int32Array, base: number): void {
  words.fill(0, base, base + REPLAY_WORDS);
}

/**
 * Accept (and record) counter hi:lo, or return false when it is a replay or too old.
 * Allocation-free.
 */
export function replayAccept(words: Int32Array, base: number, lo: number, hi: number): boolean {
  const lastLo = words[base] >>> 0;
  const lastHi = words[base + 1] >>> 0;
  const ring = base + 2;
  if (hi > lastHi || (hi === lastHi && lo > lastLo)) {
    // Newer than anything seen: clear the ring blocks the window slides over.
    const borrow = lo < lastLo ? 1 : 0;
    let blocks = REPLAY_RING_WORDS;
    if (hi - lastHi - borrow === 0) {
      const diff = (lo - lastLo) >>> 0;
      blocks = Math.min(REPLAY_RING_WORDS, Math.floor(((lastLo & 31) + diff) / 32));
    }
    const current = lastLo >>> 5;
    for (let i = 1; i <= blocks; i++) words[ring + ((current + i) & MASK)] = 0;
    words[base] = lo | 0;
    words[base + 1] = hi | 0;
  } else {
    const borrow = lastLo < lo ? 1 : 0;
    if (lastHi - hi - borrow !== 0) return false;
    if (((lastLo - lo) >>> 0) > REPLAY_WINDOW_SIZE) return false;
  }
  const index = ring + ((lo >>> 5) & MASK);
  const bit = 1 << (lo & 31);
  if (words[index] & bit) return false;
  words[index] |= bit;
  return true;
}

/** A window on its own private memory (tests, tools); counters as bigint for convenience. */
export class ReplayWindow {
  private readonly words = new Int32Array(REPLAY_WORDS);

  /** Accept counter `n` once; false for replays and counters too far behind. */
  accept(n: bigint): boolean {
    return replayAccept(this.words, 0, Number(n & 0xffffffffn), Number(n >> 32n));
  }

  /** Forget all counters seen. */
  reset(): void {
    replayReset(this.words, 0);
  }
}
