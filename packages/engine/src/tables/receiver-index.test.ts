import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTombstones, insertIndex, lookupIndex, removeIndex } from "./receiver-index.js";
import { SharedTables, sharedTablesSize } from "./shared-tables.js";

const cap = { peers: 2, keypairs: 16 };

function table(): SharedTables {
  return SharedTables.create(new SharedArrayBuffer(sharedTablesSize(cap) + 64), 64, cap);
}

describe("receiver-index table", () => {
  it("agrees with a map under random churn, and leaves no tombstone once empty", () => {
    // Indices drawn from a small range collide on home words, so clusters form and break.
    const op = fc.record({ insert: fc.boolean(), index: fc.integer({ min: 1, max: 40 }), slot: fc.integer({ min: 0, max: 15 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const t = table();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.insert && (model.size < t.indexCapacity - 1 || model.has(o.index))) {
            insertIndex(t, o.index, o.slot);
            model.set(o.index, o.slot);
          } else if (!o.insert) {
            removeIndex(t, o.index);
            model.delete(o.index);
          }
          for (let i = 1; i <= 40; i++) expect(lookupIndex(t, i)).toBe(model.get(i) ?? -1);
        }
        for (const i of [...model.keys()]) removeIndex(t, i);
        expect(countTombstones(t)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("re-registering an index behind a tombstone updates it instead of adding a second entry", () => {
    const t = table();
    const c = t.indexCapacity;
    insertIndex(t, 1, 1); // home 1
    insertIndex(t, 1 + c, 2); // same home, next word
    insertIndex(t, 1 + 2 * c, 3); // and the one after
    removeIndex(t, 1); // a tombstone in front of the others
    insertIndex(t, 1 + 2 * c, 9);
    removeIndex(t, 1 + 2 * c);
    expect(lookupIndex(t, 1 + 2 * c)).toBe(-1);
    expect(lookupIndex(t, 1 + c)).toBe(2);
  });

  it("refuses index 0, and a full table", () => {
    const t = table();
    expect(() => insertIndex(t, 0, 1)).toThrow(/reserved/);
    for (let i = 1; i <= t.indexCapacity; i++) insertIndex(t, i, 0);
    expect(() => insertIndex(t, t.indexCapacity + 1, 0)).toThrow(/full/);
  });
});
