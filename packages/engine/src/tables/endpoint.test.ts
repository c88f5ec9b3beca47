import { describe, expect, it } from "vitest";
import { HANDSHAKE_BURST, RateLimiter } from "../protocol/ratelimiter.js";
import { allowSource, formatEndpoint, parseEndpoint } from "./endpoint.js";

// Spends `from`'s burst, then says whether `other` may still go at the same moment.
function sharesBucket(from: string, other: string): boolean {
  const r = new RateLimiter();
  const a = parseEndpoint(from);
  for (let i = 0; i < HANDSHAKE_BURST; i++) expect(allowSource(r, a, 0, 0)).toBe(true);
  expect(allowSource(r, a, 0, 0)).toBe(false);
  return !allowSource(r, parseEndpoint(other), 0, 0);
}

describe("endpoint records", () => {
  it("round-trip through text", () => {
    for (const t of ["198.18.0.1:51820", "[2001:2::1]:1"]) expect(formatEndpoint(parseEndpoint(t))).toBe(t);
  });

  it("rate-limit an IPv4 source by its address, whatever its port", () => {
    expect(sharesBucket("198.18.0.1:51820", "198.18.0.1:40000")).toBe(true);
    expect(sharesBucket("198.18.0.1:51820", "198.18.0.2:51820")).toBe(false);
  });

  it("rate-limit an IPv6 source by its /64: one host owns all of it", () => {
    expect(sharesBucket("[2001:2:0:1::1]:51820", "[2001:2:0:1:ffff:ffff:ffff:fffe]:9")).toBe(true);
    expect(sharesBucket("[2001:2:0:1::1]:51820", "[2001:2:0:2::1]:51820")).toBe(false);
    expect(sharesBucket("[2001:2:0:1::1]:51820", "[2001:2:1:1::1]:51820")).toBe(false);
  });

  it("keep IPv4 and IPv6 sources apart even when their first bytes agree", () => {
    expect(sharesBucket("198.18.0.1:1", "[c612:1::]:1")).toBe(false);
  });

  it("read the record in place, at any offset of a larger buffer", () => {
    const r = new RateLimiter();
    const rec = parseEndpoint("198.18.0.9:5");
    const big = new Uint8Array(100);
    big.set(rec, 37);
    for (let i = 0; i < HANDSHAKE_BURST; i++) allowSource(r, big, 37, 0);
    expect(allowSource(r, rec, 0, 0)).toBe(false);
  });
});
