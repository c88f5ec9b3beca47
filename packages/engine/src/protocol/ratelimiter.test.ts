import { describe, expect, it } from "vitest";
import { HANDSHAKE_BURST, HANDSHAKES_PER_SECOND, LoadDetector, RateLimiter } from "./ratelimiter.js";

describe("rate limiter", () => {
  it("allows a burst, then the sustained rate, per source", () => {
    const r = new RateLimiter();
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (r.allow("a", 0)) allowed++;
    expect(allowed).toBe(HANDSHAKE_BURST);
    expect(r.allow("b", 0)).toBe(true);
    expect(r.allow("a", 1000 / HANDSHAKES_PER_SECOND)).toBe(true);
    expect(r.allow("a", 1000 / HANDSHAKES_PER_SECOND)).toBe(false);
  });

  it("forgets idle sources", () => {
    const r = new RateLimiter();
    for (let i = 0; i < 10; i++) r.allow(`s${i}`, 0);
    expect(r.size).toBe(10);
    r.allow("x", 5000);
    expect(r.size).toBe(1);
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
