import { describe, expect, it } from "vitest";
import { STAGE_SLOTS, Staging } from "./staging.js";

const BASE = 4096;
const SLOT_STRIDE = 2048;

function setup() {
  const u8 = new Uint8Array(BASE + (STAGE_SLOTS + 1) * SLOT_STRIDE);
  return { u8, staging: new Staging(u8, BASE, SLOT_STRIDE) };
}

/** Writes a 4-byte packet [tag, 1, 2, 3] at offset 0 and stages it for `peer`. */
function stage(s: ReturnType<typeof setup>, tag: number, peer: number): boolean {
  s.u8.set([tag, 1, 2, 3], 0);
  return s.staging.add(0, 4, peer, 100 + tag);
}

describe("Staging", () => {
  it("gives packets back oldest first, with their bytes, peer and generation, and keeps the ones not taken", () => {
    const s = setup();
    for (let t = 0; t < 5; t++) expect(stage(s, t, t % 2)).toBe(true);
    const taken: number[] = [];
    s.staging.drain((src, length, peer, generation) => {
      if (peer !== 1) return false;
      expect(length).toBe(4);
      expect(generation).toBe(100 + s.u8[src]);
      taken.push(s.u8[src]);
      return true;
    });
    expect(taken).toEqual([1, 3]);
    expect(s.staging.count).toBe(3);
    const rest: number[] = [];
    s.staging.drain((src) => (rest.push(s.u8[src]), true));
    expect(rest).toEqual([0, 2, 4]);
    expect(s.staging.count).toBe(0);
  });

  it("drops the oldest when full, and reuses slots without mixing bytes", () => {
    const s = setup();
    for (let t = 0; t < STAGE_SLOTS; t++) expect(stage(s, t, 0)).toBe(true);
    expect(stage(s, 200, 0)).toBe(false);
    const tags: number[] = [];
    s.staging.drain((src) => (tags.push(s.u8[src]), true));
    expect(tags).toEqual([...Array.from({ length: STAGE_SLOTS - 1 }, (_, i) => i + 1), 200]);
  });
});
