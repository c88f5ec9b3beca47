import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAddr } from "./address.js";
import { BatchControl } from "./batch.js";
import { loadIoShim } from "./load.js";
import { closeFd, eventfdOpen, eventfdRead, eventfdWrite, pollWait } from "./poll.js";
import { udpOpen, udpSendBatch } from "./udp.js";
import { enterTestNs, sharedMemory, type TestNs } from "./_netns_fixture.js";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
let ns: TestNs;
const fds: number[] = [];
const memory = sharedMemory();

beforeAll(() => {
  ns = enterTestNs();
  loadIoShim(); // on the main thread before any worker: ffi-rs loaded only in a worker crashes the process
});
afterAll(() => {
  for (const fd of fds.splice(0)) closeFd(fd);
  ns?.dispose();
});

describe("pollWait and eventfd", () => {
  it("times out with 0, then reports which fds are ready", () => {
    const efd = eventfdOpen();
    const s = udpOpen({ address: "127.0.0.1" });
    fds.push(efd, s.fd);
    const cb = new BatchControl(memory, 0);
    cb.setPollFds([s.fd, efd]);
    cb.timeoutMs = 20;
    const t0 = performance.now();
    expect(pollWait(cb)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(cb.ready).toBe(0);

    // a datagram to itself makes the socket (bit 0) readable
    const u8 = new Uint8Array(memory.buffer);
    encodeAddr(u8, 4096, `127.0.0.1:${s.port}`);
    new DataView(memory.buffer).setUint32(1024, 10, true);
    const send = new BatchControl(memory, 128).setup({ fd: s.fd, count: 1, buffer: 8192, stride: 2048, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(send)).toBe(1);
    cb.setPollFds([s.fd, efd]);
    cb.timeoutMs = 1000;
    expect(pollWait(cb)).toBe(1);
    expect(cb.ready).toBe(0b01);

    // the eventfd (bit 1) stays readable until read
    eventfdWrite(efd);
    eventfdWrite(efd);
    expect(pollWait(cb)).toBe(2);
    expect(cb.ready).toBe(0b11);
    expect(eventfdRead(efd)).toBe(2);
    expect(eventfdRead(efd)).toBe(0);

    // bit i of flags also waits for writability
    cb.setPollFds([efd, s.fd]);
    cb.flags = 0b10;
    cb.timeoutMs = 0;
    expect(pollWait(cb)).toBeGreaterThanOrEqual(1);
    expect(cb.ready & 0b10).toBe(0b10);
  });

  it("rejects bad poll sets", () => {
    const cb = new BatchControl(memory, 0);
    expect(() => cb.setPollFds([])).toThrow(RangeError);
    expect(() => cb.setPollFds(Array(9).fill(0))).toThrow(RangeError);
    expect(() => cb.setPollFds([-1])).toThrow(/fd/);
    const efd = eventfdOpen();
    closeFd(efd);
    cb.setPollFds([efd]);
    cb.timeoutMs = 0;
    cb.flags = 0;
    expect(pollWait(cb)).toBe(-9);
    expect(() => eventfdWrite(efd)).toThrow(expect.objectContaining({ errno: "EBADF", op: "eventfd write" }));
  });

  it("wakes a worker blocked in pollWait within 50 ms of the eventfd write", async () => {
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm --filter @taltun/io-shim build\` first`);
    const efd = eventfdOpen();
    fds.push(efd);
    // i64 slots: [0] = hrtime (ns) when the worker's pollWait returned, [1] = its result
    const times = new BigInt64Array(new SharedArrayBuffer(16));
    const worker = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
       import(workerData.dist).then((s) => {
         const cb = new s.BatchControl(workerData.memory, 512);
         cb.setPollFds([workerData.efd]);
         cb.timeoutMs = 10000;
         parentPort.postMessage("blocking");
         const n = s.pollWait(cb);
         workerData.times[0] = process.hrtime.bigint();
         workerData.times[1] = BigInt(n);
         parentPort.postMessage("woke");
       });`,
      { eval: true, workerData: { dist, memory, efd, times } },
    );
    try {
      const woke = new Promise<void>((resolve, reject) => {
        worker.on("error", reject);
        worker.on("message", (m) => m === "woke" && resolve());
      });
      await new Promise<void>((resolve) => worker.on("message", (m) => m === "blocking" && resolve()));
      await new Promise((r) => setTimeout(r, 200));
      expect(times[0]).toBe(0n); // still blocked
      const wrote = process.hrtime.bigint();
      eventfdWrite(efd);
      await woke;
      const ms = Number(times[0] - wrote) / 1e6;
      console.log(`worker woke ${ms.toFixed(3)} ms after the eventfd write`);
      expect(times[1]).toBe(1n);
      expect(ms).toBeLessThan(50);
    } finally {
      await worker.terminate();
    }
  });
});
