import { describe, expect, it } from "vitest";
import { MemoryLayout } from "./memory-layout.js";

describe("MemoryLayout", () => {
  it("hands out aligned, non-overlapping regions", () => {
    const l = new MemoryLayout(100, 10_000);
    const a = l.reserve("a", 10);
    const b = l.reserve("b", 2048, 2048);
    const c = l.reserve("c", 3, 4);
    expect(a).toBe(112);
    expect(b % 2048).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 10);
    expect(c).toBe(b + 2048);
    expect(l.used).toBe(c + 3);
  });

  it("refuses a region past the end and a name reserved twice", () => {
    const l = new MemoryLayout(0, 64);
    l.reserve("a", 32);
    expect(() => l.reserve("a", 1)).toThrow(/twice/);
    expect(() => l.reserve("b", 64)).toThrow(/too small: b needs 64/);
  });
});
