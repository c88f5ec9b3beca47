import { describe, expect, it } from "vitest";
import { World } from "../../test/harness.js";
import { isUnderLoad } from "../tables/cookie-record.js";
import { UNDER_LOAD_AFTER_TIME } from "./load.js";

describe("under load", () => {
  it("starts above the handshake rate or at a backlog in a ring, is published to the workers, and ends UNDER_LOAD_AFTER_TIME after the last sign", () => {
    const w = new World();
    const d = w.addNode("hub", "100.64.0.1", { loadThreshold: 100 }).device;
    expect([d.noteLoad(0, 50, 0), isUnderLoad(d.tables)]).toEqual([false, false]);
    expect([d.noteLoad(100, 60, 0), isUnderLoad(d.tables)]).toEqual([true, true]);
    // The rate falls away with its one-second window; the verdict holds on after that.
    expect(d.underLoad(1050)).toBe(true); // the previous second still weighs in: the verdict holds to 2050
    expect(d.underLoad(2000)).toBe(true);
    expect(d.underLoad(1050 + UNDER_LOAD_AFTER_TIME + 1)).toBe(false);
    expect(isUnderLoad(d.tables)).toBe(false);
    // A ring an eighth full is a backlog, whatever the rate.
    expect(d.noteLoad(10_000, 0, 0.1)).toBe(false);
    expect(d.noteLoad(10_001, 0, 0.125)).toBe(true);
    expect(d.underLoad(10_001 + UNDER_LOAD_AFTER_TIME)).toBe(false);
  });
});
