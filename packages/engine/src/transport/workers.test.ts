/**
 * Two real worker threads on one shared memory: they seal for the same peer at the same
 * time and never reuse a counter; they open the same datagrams at the same time and each
 * is accepted exactly once (the replay window's lock).
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { createSharedMemory, HEAP_BASE } from "../protocol/aead.js";
import { AllowedIps } from "../tables/allowed-ips.js";
import { KeypairStore } from "../tables/keypair-store.js";
import { readU32 } from "../protocol/messages.js";
import { readCounters } from "../tables/peer-slot.js";
import { SharedTables, sharedTablesSize } from "../tables/shared-tables.js";

const SLOT = 256;
const BATCHES = 40;

function run(data: Record<string, unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("../../test/transport-worker.mjs", import.meta.url), { workerData: data });
    w.once("message", resolve);
    w.once("error", reject);
  });
}

describe("transport path in concurrent workers", () => {
  it("never reuses a counter and accepts each datagram once", async () => {
    const memory = createSharedMemory(16 << 20);
    const cap = { peers: 4, keypairs: 16 };
    const baseA = HEAP_BASE;
    const baseB = baseA + ((sharedTablesSize(cap) + 63) & ~63);
    const areas = baseB + ((sharedTablesSize(cap) + 63) & ~63);
    const areaBytes = 8192 + 64 * 24 + 64 * SLOT;
    const outBase = areas + 4 * areaBytes;
    const sortedBase = outBase + 2 * BATCHES * 64 * SLOT;
    const start = sortedBase + 2 * BATCHES * 64 * SLOT;
    const a = SharedTables.create(memory.buffer, baseA, cap);
    const b = SharedTables.create(memory.buffer, baseB, cap);
    const k1 = crypto.getRandomValues(new Uint8Array(32));
    const k2 = crypto.getRandomValues(new Uint8Array(32));
    new KeypairStore(a).install(0, { send: k1.slice(), receive: k2.slice() }, 0x1111, 0x2222, true, 0);
    new KeypairStore(b).install(0, { send: k2.slice(), receive: k1.slice() }, 0x2222, 0x1111, true, 0);
    const allowed = new AllowedIps(true);
    allowed.insert("100.64.0.1/32", 0);
    const common = { memory, outBase, slotBytes: SLOT, batches: BATCHES, allowed: allowed.snapshot, start };
    const flag = new Int32Array(memory.buffer, start, 1);

    const sealers = [0, 1].map((w) => run({ ...common, mode: "seal", tablesBase: baseA, areaBase: areas + w * areaBytes, first: w * BATCHES * 64 }));
    await new Promise((r) => setTimeout(r, 200));
    Atomics.store(flag, 0, 1);
    expect(await Promise.all(sealers)).toEqual([BATCHES * 64, BATCHES * 64]);
    const u8 = new Uint8Array(memory.buffer);
    const counters = new Set<number>();
    for (let i = 0; i < 2 * BATCHES * 64; i++) counters.add(readU32(u8, outBase + i * SLOT + 8));
    expect(counters.size).toBe(2 * BATCHES * 64);
    expect(Math.max(...counters)).toBe(2 * BATCHES * 64 - 1);
    expect(readCounters(a, 0).txPackets).toBe(2 * BATCHES * 64);

    // Both workers open ALL datagrams, walking them in counter order at the same time (so
    // reordering between them stays inside the window): every one is accepted exactly once.
    for (let i = 0; i < 2 * BATCHES * 64; i++) {
      const c = readU32(u8, outBase + i * SLOT + 8);
      u8.copyWithin(sortedBase + c * SLOT, outBase + i * SLOT, outBase + (i + 1) * SLOT);
    }
    Atomics.store(flag, 0, 0);
    const openers = [0, 1].map((w) => run({ ...common, outBase: sortedBase, mode: "open", tablesBase: baseB, areaBase: areas + (2 + w) * areaBytes, first: 0, batches: 2 * BATCHES }));
    await new Promise((r) => setTimeout(r, 200));
    Atomics.store(flag, 0, 1);
    const accepted = await Promise.all(openers);
    expect(accepted[0] + accepted[1]).toBe(2 * BATCHES * 64);
    expect(readCounters(b, 0).rxPackets).toBe(2 * BATCHES * 64);
  }, 30_000);
});
