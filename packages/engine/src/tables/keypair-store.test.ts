import { describe, expect, it } from "vitest";
import { IndexTable } from "../protocol/index-table.js";
import { KeypairStore, RETIRE_GRACE } from "./keypair-store.js";
import { keypairFlags, KP_SEND_ALLOWED, sendKeyAddress } from "./keypair-slot.js";
import { CURRENT, keypairOf, NEXT, PREVIOUS } from "./peer-slot.js";
import { lookupIndex } from "./receiver-index.js";
import { SharedTables, sharedTablesSize } from "./shared-tables.js";

const cap = { peers: 2, keypairs: 6 };
const keys = () => ({ send: new Uint8Array(32).fill(1), receive: new Uint8Array(32).fill(2) });

function setup() {
  const t = SharedTables.create(new SharedArrayBuffer(sharedTablesSize(cap) + 64), 64, cap);
  return { t, store: new KeypairStore(t) };
}

describe("keypair rotation", () => {
  it("initiator: new keypair becomes current, the old one previous; responder: next, not sendable", () => {
    const { t, store } = setup();
    const a = store.install(0, keys(), 11, 21, true, 0);
    expect(store.slotsOf(0)).toEqual([a, -1, -1]);
    const b = store.install(0, keys(), 12, 22, true, 0);
    expect(store.slotsOf(0)).toEqual([b, a, -1]);
    const c = store.install(0, keys(), 13, 23, false, 0);
    expect(store.slotsOf(0)).toEqual([b, -1, c]); // previous dropped, as wireguard-go does
    expect(keypairFlags(t, c) & KP_SEND_ALLOWED).toBe(0);
    expect(lookupIndex(t, 11)).toBe(-1);
    expect(lookupIndex(t, 12)).toBe(b);
    expect(lookupIndex(t, 13)).toBe(c);
    // An initiator handshake while a `next` exists: previous <- next, current retired.
    const d = store.install(0, keys(), 14, 24, true, 0);
    expect(store.slotsOf(0)).toEqual([d, c, -1]);
    expect(lookupIndex(t, 12)).toBe(-1);
    expect(([CURRENT, PREVIOUS, NEXT] as const).map((f) => keypairOf(t, 1, f))).toEqual([-1, -1, -1]);
  });

  it("retired slots are zeroed after the grace period, or reused early when none is free", () => {
    const { t, store } = setup();
    let last = -1;
    for (let i = 0; i < 20; i++) last = store.install(0, keys(), 100 + i, 200 + i, true, i);
    expect(store.slotsOf(0)[0]).toBe(last);
    store.collect(19 + RETIRE_GRACE);
    const [current, previous] = store.slotsOf(0);
    for (let k = 0; k < cap.keypairs; k++) {
      const key = t.u8.subarray(sendKeyAddress(t, k), sendKeyAddress(t, k) + 32);
      expect(key.every((x) => x === 0)).toBe(k !== current && k !== previous);
    }
  });
});

describe("receiver indices", () => {
  it("are random, never 0 and never in use", () => {
    const taken = new Set<number>();
    const table = new IndexTable<string>((i) => taken.has(i));
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const idx = i % 2 ? table.allocate("x") : table.fresh();
      expect(idx).not.toBe(0);
      expect(seen.has(idx)).toBe(false);
      seen.add(idx);
      taken.add(idx);
    }
    expect(table.size).toBe(1000);
  });
});
