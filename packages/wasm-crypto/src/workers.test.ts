// Two worker threads, two instances over one shared memory, each with its own scratch,
// sealing concurrently: both batches must come out exactly as the single-threaded API says.
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  createSharedMemory, compileAeadModule, seal, HEAP_BASE, SCRATCH_BYTES,
  DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI, DESC_DATA, DESC_LENGTH, DESC_STATUS,
} from "./index.js";
import { rng, toHex } from "../test/helpers.js";

const COUNT = 64, SLOT = 2048, ROUNDS = 100;

describe("worker threads over one shared memory", () => {
  it("two instances with their own scratch seal concurrently and correctly", async () => {
    const memory = createSharedMemory(1 << 20);
    const u8 = new Uint8Array(memory.buffer);
    const dv = new DataView(memory.buffer);
    const r = rng(11);
    const module = compileAeadModule();
    const flag = new SharedArrayBuffer(8);
    const jobs = [0, 1].map((w) => {
      const scratchPtr = HEAP_BASE + w * SCRATCH_BYTES;
      const base = HEAP_BASE + 2 * SCRATCH_BYTES + w * (COUNT * (SLOT + DESC_SIZE) + 64);
      const descPtr = base, keyPtr = base + COUNT * DESC_SIZE, data = keyPtr + 32;
      const key = r.bytes(32);
      u8.set(key, keyPtr);
      const want: string[] = [];
      for (let i = 0; i < COUNT; i++) {
        const len = 1 + r.int(SLOT - 32);
        const pt = r.bytes(len);
        u8.set(pt, data + i * SLOT);
        const d = descPtr + i * DESC_SIZE;
        dv.setUint32(d + DESC_KEY, keyPtr, true);
        dv.setUint32(d + DESC_COUNTER_LO, i, true);
        dv.setUint32(d + DESC_COUNTER_HI, w, true);
        dv.setUint32(d + DESC_DATA, data + i * SLOT, true);
        dv.setUint32(d + DESC_LENGTH, len, true);
        const nonce = new Uint8Array(12);
        new DataView(nonce.buffer).setUint32(4, i, true);
        new DataView(nonce.buffer).setUint32(8, w, true);
        want.push(toHex(seal(key, nonce, pt)));
      }
      return { scratchPtr, descPtr, data, want };
    });
    const workers = jobs.map((j) =>
      new Worker(new URL("../test/seal-worker.mjs", import.meta.url), {
        workerData: { memory, module, scratchPtr: j.scratchPtr, descPtr: j.descPtr, count: COUNT, rounds: ROUNDS, flag },
      }),
    );
    const done = workers.map((w) => new Promise((res, rej) => { w.once("message", res); w.once("error", rej); }));
    const gate = new Int32Array(flag);
    while (Atomics.load(gate, 1) < 2) await new Promise((res) => setTimeout(res, 1));
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    expect(await Promise.all(done)).toEqual([COUNT * ROUNDS, COUNT * ROUNDS]);
    await Promise.all(workers.map((w) => w.terminate()));
    for (const j of jobs) {
      for (let i = 0; i < COUNT; i++) {
        const d = j.descPtr + i * DESC_SIZE;
        expect(dv.getUint32(d + DESC_STATUS, true)).toBe(1);
        const len = j.want[i].length / 2;
        expect(toHex(u8.subarray(j.data + i * SLOT, j.data + i * SLOT + len))).toBe(j.want[i]);
      }
    }
  });
});
