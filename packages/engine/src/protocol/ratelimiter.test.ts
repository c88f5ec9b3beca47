import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HANDSHAKE_BURST, HANDSHAKES_PER_SECOND, LoadDetector, MAX_SOURCES, RateLimiter } from "./ratelimiter.js";

// The obvious implementation: one bucket per key in a Map; once a second, the buckets idle
// for over a second are forgotten.
class ModelLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;
  constructor(private readonly maxSources: number) {}
  allow(key: readonly number[], now: number): boolean {
    if (now - this.lastSweep > 1000) {
      for (const [k, b] of this.buckets) if (now - b.at > 1000) this.buckets.delete(k);
      this.lastSweep = now;
    }
    let b = this.buckets.get(key.join());
    if (!b) {
      if (this.buckets.size >= this.maxSources) return false;
      b = { tokens: HANDSHAKE_BURST, at: now };
      this.buckets.set(key.join(), b);
    }
    b.tokens = Math.min(HANDSHAKE_BURST, b.tokens + ((now - b.at) * HANDSHAKES_PER_SECOND) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
  get size(): number {
    return this.buckets.size;
  }
}

describe("rate limiter", () => {
  it("allows a burst, then the sustained rate, per source", () => {
    const r = new RateLimiter();
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (r.allow(2, 0x0a000001, 0, 0)) allowed++;
    expect(allowed).toBe(HANDSHAKE_BURST);
    expect(r.allow(2, 0x0a000002, 0, 0)).toBe(true);
    expect(r.allow(10, 0x0a000001, 0, 0)).toBe(true); // another word of the key, another source
    expect(r.allow(2, 0x0a000001, 0, 1000 / HANDSHAKES_PER_SECOND)).toBe(true);
    expect(r.allow(2, 0x0a000001, 0, 1000 / HANDSHAKES_PER_SECOND)).toBe(false);
  });

  it("forgets idle sources", () => {
    const r = new RateLimiter();
    for (let i = 0; i < 10; i++) r.allow(2, i, 0, 0);
    expect(r.size).toBe(10);
    r.allow(2, 99, 0, 5000);
    expect(r.size).toBe(1);
  });

  it("refuses new sources while its table is full, keeps serving the known ones, and takes new ones once the old are idle", () => {
    const r = new RateLimiter(HANDSHAKES_PER_SECOND, HANDSHAKE_BURST, 8);
    for (let i = 0; i < 8; i++) expect(r.allow(2, i, 0, 0)).toBe(true);
    expect(r.allow(2, 8, 0, 10)).toBe(false);
    expect(r.allow(2, 3, 0, 10)).toBe(true);
    expect(r.size).toBe(8);
    expect(r.allow(2, 8, 0, 2500)).toBe(true);
    expect(r.size).toBe(1);
  });

  it("agrees with a Map of buckets on random traffic: many sources, growth, sweeps and a full table", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.oneof(
          // One busy source, which runs out of tokens, among many that come and go.
          { arbitrary: fc.constant([2, 7, 0]), weight: 2 },
          { arbitrary: fc.tuple(fc.constantFrom(2, 10), fc.integer({ min: 0, max: 150 }), fc.constantFrom(0, 1, -1)), weight: 3 },
        ), dt: fc.oneof(fc.nat(3), fc.nat(60)) }), { minLength: 200, maxLength: 3000 }),
        fc.constantFrom(4, 16, 200, MAX_SOURCES),
        (events, cap) => {
          const r = new RateLimiter(HANDSHAKES_PER_SECOND, HANDSHAKE_BURST, cap);
          const model = new ModelLimiter(cap);
          let now = 0;
          for (const e of events) {
            now += e.dt;
            const [k0, k1, k2] = e.key;
            expect(r.allow(k0, k1, k2, now)).toBe(model.allow(e.key, now));
          }
          expect(r.size).toBe(model.size);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("load detector", () => {
  it("is under load above the threshold and recovers", () => {
    const d = new LoadDetector(10);
    for (let i = 0; i < 10; i++) expect(d.record(i * 10)).toBe(false);
    expect(d.record(100)).toBe(true);
    expect(d.underLoad(500)).toBe(true);
    expect(d.underLoad(1050)).toBe(true); // the previous second still weighs in
    expect(d.underLoad(1500)).toBe(false);
    expect(d.underLoad(2500)).toBe(false);
  });
});
