/**
 * Handshake rate limiting (whitepaper §5.3 "DoS mitigation"):
 *
 * - {@link RateLimiter}: a token bucket per source address (the opaque endpoint bytes
 *   without the port would be stricter; we key on what the caller gives), so that one
 *   source cannot monopolise handshake processing: HANDSHAKES_PER_SECOND sustained,
 *   bursts of HANDSHAKE_BURST. Idle buckets are swept to bound memory.
 * - {@link LoadDetector}: the rate of handshake messages over a sliding second; above a
 *   configurable threshold the device is "under load" and demands MAC2 cookies before
 *   doing any DH.
 * @module
 */

/** Sustained handshakes per second allowed from one source. */
export const HANDSHAKES_PER_SECOND = 20;
/** Burst allowance per source. */
export const HANDSHAKE_BURST = 5;
/** Buckets untouched this long are forgotten (ms). */
const BUCKET_IDLE_TIME = 1_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** Per-source token buckets. Time is the caller's monotonic clock in ms. */
export class RateLimiter {
  private buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly perSecond = HANDSHAKES_PER_SECOND,
    private readonly burst = HANDSHAKE_BURST,
  ) {}

  /** Take one token for `source`; false when its bucket is empty. */
  allow(source: Uint8Array | string, now: number): boolean {
    if (now - this.lastSweep > BUCKET_IDLE_TIME) this.sweep(now);
    const key = typeof source === "string" ? source : Buffer.from(source).toString("hex");
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perSecond) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > BUCKET_IDLE_TIME) this.buckets.delete(k);
    this.lastSweep = now;
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
