import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW_SIZE } from "./constants.js";
import { ReplayWindow } from "./replay.js";

describe("replay window", () => {
  it("accepts counters once, in order and reordered", () => {
    const w = new ReplayWindow();
    expect(w.accept(0n)).toBe(true);
    expect(w.accept(0n)).toBe(false);
    expect(w.accept(2n)).toBe(true);
    expect(w.accept(1n)).toBe(true);
    expect(w.accept(1n)).toBe(false);
    expect(w.accept(2n)).toBe(false);
  });

  it("window is at least 2048 and rejects what is older", () => {
    const w = new ReplayWindow();
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(2048);
    expect(w.accept(5000n)).toBe(true);
    expect(w.accept(5000n - 2048n)).toBe(true);
    expect(w.accept(5000n - BigInt(REPLAY_WINDOW_SIZE))).toBe(true);
    expect(w.accept(5000n - BigInt(REPLAY_WINDOW_SIZE) - 1n)).toBe(false);
    expect(w.accept(0n)).toBe(false);
  });

  it("handles counters around 2048 and many wraps of the ring", () => {
    const w = new ReplayWindow();
    for (let n = 2040n; n < 2060n; n += 2n) expect(w.accept(n)).toBe(true);
    for (let n = 2041n; n < 2060n; n += 2n) expect(w.accept(n)).toBe(true);
    for (let n = 2040n; n < 2060n; n++) expect(w.accept(n)).toBe(false);
    // Walk far enough to wrap the 128-word ring several times, skipping some counters.
    for (let n = 2060n; n < 20000n; n++) if (n % 7n !== 0n) expect(w.accept(n)).toBe(true);
    // The skipped ones still inside the window are accepted late, exactly once.
    expect(w.accept(19999n - 6n - ((19999n - 6n) % 7n))).toBe(true);
    for (let n = 20000n - BigInt(REPLAY_WINDOW_SIZE); n < 20000n; n++) {
      expect(w.accept(n)).toBe(n % 7n === 0n && n !== 19999n - 6n - ((19999n - 6n) % 7n));
    }
  });

  it("a large jump clears the whole ring", () => {
    const w = new ReplayWindow();
    for (let n = 0n; n < 100n; n++) w.accept(n);
    expect(w.accept(1_000_000n)).toBe(true);
    expect(w.accept(1_000_000n - 50n)).toBe(true);
    expect(w.accept(1_000_000n - 4096n)).toBe(false);
  });

  it("works across the 32-bit boundary of the counter", () => {
    const w = new ReplayWindow();
    const base = 0xffffffffn - 10n;
    for (let n = base; n < base + 40n; n += 2n) expect(w.accept(n)).toBe(true);
    for (let n = base + 1n; n < base + 40n; n += 2n) expect(w.accept(n)).toBe(true);
    for (let n = base; n < base + 40n; n++) expect(w.accept(n)).toBe(false);
    expect(w.accept(base + (1n << 32n))).toBe(true);
    expect(w.accept(base + 39n)).toBe(false);
  });

  it("matches a slow model on random reordering", () => {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let highest = -1;
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let next = 0;
    for (let i = 0; i < 50000; i++) {
      next += Math.floor(rnd() * 3);
      const n = Math.max(0, next - Math.floor(rnd() * 5000));
      const expected = !seen.has(n) && (n > highest || highest - n <= REPLAY_WINDOW_SIZE);
      expect(w.accept(BigInt(n))).toBe(expected);
      if (expected) seen.add(n);
      highest = Math.max(highest, expected ? n : highest);
    }
  });
});
