/**
 * Handshake rate limiting (whitepaper §5.3 "DoS mitigation"):
 *
 * - {@link RateLimiter}: a token bucket per source, so that one source cannot monopolise
 *   handshake processing: HANDSHAKES_PER_SECOND sustained, bursts of HANDSHAKE_BURST. The
 *   caller names the source by a three-word key (tables/endpoint.ts: the address without
 *   its port, IPv6 by its /64, as wireguard-go and the kernel's WireGuard do).
 * - {@link LoadDetector}: the rate of handshake messages over a sliding second; above a
 *   configurable threshold the device is "under load" and demands MAC2 cookies before
 *   doing any DH.
 * @module
 */

/** Sustained handshakes per second allowed from one source. */
export const HANDSHAKES_PER_SECOND = 20;
/** Burst allowance per source. */
export const HANDSHAKE_BURST = 5;
/**
 * Sources a limiter tracks at once. A flood of spoofed addresses fills it; then a new
 * source is refused until idle ones are forgotten (the kernel's WireGuard does the same at
 * its table's limit). The alternative, a table that grows with the flood, hands the
 * attacker our memory and the garbage collector.
 */
export const MAX_SOURCES = 1 << 15;
/** Buckets untouched this long are forgotten (ms): by then they would be full again anyway. */
const BUCKET_IDLE_TIME = 1_000;
const KEY_WORDS = 3;

// One open-addressing table (linear probing, at most half full): keys, tokens, last use.
class Buckets {
  readonly keys: Uint32Array;
  readonly tokens: Float64Array;
  readonly at: Float64Array;
  count = 0;
  constructor(readonly slots: number) {
    this.keys = new Uint32Array(slots * KEY_WORDS);
    this.tokens = new Float64Array(slots);
    this.at = new Float64Array(slots).fill(-1);
  }
  clear(): void {
    this.at.fill(-1);
    this.count = 0;
  }
}

/**
 * Per-source token buckets in typed arrays: taking a token allocates nothing, so a flood
 * costs no garbage. Time is the caller's monotonic clock in ms.
 */
export class RateLimiter {
  private table: Buckets;
  private spare: Buckets | null = null;
  private lastSweep = 0;
  // Random per limiter, so that an attacker cannot aim many keys at one probe chain.
  private readonly seed = crypto.getRandomValues(new Uint32Array(1))[0];

  constructor(
    private readonly perSecond = HANDSHAKES_PER_SECOND,
    private readonly burst = HANDSHAKE_BURST,
    private readonly maxSources = MAX_SOURCES,
  ) {
    this.table = new Buckets(Math.min(256, 2 * maxSources));
  }

  /** Take one token for the source keyed (k0, k1, k2); false when its bucket is empty or the table is full. */
  allow(k0: number, k1: number, k2: number, now: number): boolean {
    if (now - this.lastSweep > BUCKET_IDLE_TIME) this.sweep(now);
    let t = this.table;
    let slot = this.find(t, k0, k1, k2);
    if (t.at[slot] < 0) {
      if (t.count >= this.maxSources) return false;
      if (2 * (t.count + 1) > t.slots) {
        this.table = t = this.rehash(t, new Buckets(2 * t.slots), now);
        this.spare = null;
        slot = this.find(t, k0, k1, k2);
      }
      t.keys[slot * KEY_WORDS] = k0;
      t.keys[slot * KEY_WORDS + 1] = k1;
      t.keys[slot * KEY_WORDS + 2] = k2;
      t.tokens[slot] = this.burst;
      t.at[slot] = now;
      t.count++;
    }
    const tokens = Math.min(this.burst, t.tokens[slot] + ((now - t.at[slot]) * this.perSecond) / 1000);
    t.at[slot] = now;
    if (tokens < 1) {
      t.tokens[slot] = tokens;
      return false;
    }
    t.tokens[slot] = tokens - 1;
    return true;
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.table.count;
  }

  // The slot holding the key, or the empty slot where it would go.
  private find(t: Buckets, k0: number, k1: number, k2: number): number {
    const mask = t.slots - 1;
    let h = Math.imul(k0 ^ this.seed, 0x9e3779b1) ^ Math.imul(k1 + 0x7f4a7c15, 0x85ebca77) ^ Math.imul(k2 ^ 0x165667b1, 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    for (let slot = (h ^ (h >>> 16)) & mask; ; slot = (slot + 1) & mask) {
      if (t.at[slot] < 0) return slot;
      const k = slot * KEY_WORDS;
      if (t.keys[k] === k0 >>> 0 && t.keys[k + 1] === k1 >>> 0 && t.keys[k + 2] === k2 >>> 0) return slot;
    }
  }

  // Copies the buckets used within BUCKET_IDLE_TIME of `now` from `from` into the empty `to`.
  private rehash(from: Buckets, to: Buckets, now: number): Buckets {
    for (let s = 0; s < from.slots; s++) {
      if (from.at[s] < 0 || now - from.at[s] > BUCKET_IDLE_TIME) continue;
      const k = s * KEY_WORDS;
      const d = this.find(to, from.keys[k], from.keys[k + 1], from.keys[k + 2]);
      for (let w = 0; w < KEY_WORDS; w++) to.keys[d * KEY_WORDS + w] = from.keys[k + w];
      to.tokens[d] = from.tokens[s];
      to.at[d] = from.at[s];
      to.count++;
    }
    return to;
  }

  // Forgets idle buckets: clears the table when none is left, else moves the rest to the spare (same size, kept for reuse).
  private sweep(now: number): void {
    this.lastSweep = now;
    const t = this.table;
    if (t.count === 0) return;
    const spare = this.spare ?? new Buckets(t.slots);
    spare.clear();
    this.table = this.rehash(t, spare, now);
    this.spare = t;
  }
}

/** Counts handshake messages in one-second buckets; "under load" above `threshold`/s. */
export class LoadDetector {
  private windowStart = 0;
  private current = 0;
  private previous = 0;

  /** `threshold`: handshake messages per second above which cookies are demanded. */
  constructor(readonly threshold: number) {}

  /** Record `n` handshake messages (default one) at `now` and tell whether we are under load. */
  record(now: number, n = 1): boolean {
    this.roll(now);
    this.current += n;
    return this.underLoad(now);
  }

  /** True when the estimated rate over the last second exceeds the threshold. */
  underLoad(now: number): boolean {
    this.roll(now);
    // Weighted sliding window: the previous second counts for the part still in view.
    const inView = 1 - (now - this.windowStart) / 1000;
    return this.current + this.previous * inView > this.threshold;
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < 1000) return;
    this.previous = elapsed < 2000 ? this.current : 0;
    this.current = 0;
    this.windowStart = now - (elapsed % 1000);
  }
}
