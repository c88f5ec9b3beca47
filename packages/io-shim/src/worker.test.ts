import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAddr } from "./address.js";
import { BatchControl } from "./batch.js";
import { loadIoShim } from "./load.js";
import { closeFd, eventfdOpen, eventfdWrite } from "./poll.js";
import { udpOpen, udpSendBatch } from "./udp.js";
import { enterTestNs, sharedMemory, type TestNs } from "./_netns_fixture.js";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
let ns: TestNs;
const fds: number[] = [];

beforeAll(() => {
  ns = enterTestNs();
  loadIoShim();
});
afterAll(() => {
  for (const fd of fds.splice(0)) closeFd(fd);
  ns?.dispose();
});

// The data-plane pattern: one worker per core, each with its own SO_REUSEPORT socket on
// the same port and its own control blocks in one shared memory, waiting in pollWait on
// [socket, stop eventfd]; the main thread stops them all with one eventfd write.
const WORKER = `
  const { workerData: w } = require("node:worker_threads");
  import(w.dist).then((s) => {
    const base = 65536 + w.id * 262144; // this worker's region of the shared memory
    const wait = new s.BatchControl(w.memory, w.id * 256);
    const recv = new s.BatchControl(w.memory, w.id * 256 + 128);
    recv.setup({ fd: w.fd, count: 64, buffer: base + 4096, stride: 2048, lengths: base, addrs: base + 1024 });
    for (;;) {
      wait.setPollFds([w.fd, w.stop]);
      wait.timeoutMs = 5000;
      if (s.pollWait(wait) <= 0 || wait.ready & 2) break;
      recv.count = 64;
      const n = s.udpRecvBatch(recv);
      if (n > 0) Atomics.add(w.counts, w.id, n);
    }
  });`;

describe("workers", () => {
  it("shares one port between workers with SO_REUSEPORT and stops them with one eventfd write", async () => {
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm --filter @taltun/io-shim build\` first`);
    const memory = sharedMemory();
    const first = udpOpen({ address: "127.0.0.1", reusePort: true, rcvbuf: 1 << 20 });
    const second = udpOpen({ address: "127.0.0.1", port: first.port, reusePort: true, rcvbuf: 1 << 20 });
    const stop = eventfdOpen();
    fds.push(first.fd, second.fd, stop);
    const counts = new Int32Array(new SharedArrayBuffer(8));
    const workers = [first, second].map(
      (sock, id) => new Worker(WORKER, { eval: true, workerData: { dist, memory, fd: sock.fd, stop, id, counts } }),
    );
    const exited = workers.map((w) => new Promise<number>((resolve, reject) => (w.on("exit", resolve), w.on("error", reject))));
    try {
      // 32 client sockets (32 source ports, so the kernel's hash spreads them) x 8 datagrams
      const u8 = new Uint8Array(memory.buffer);
      const dv = new DataView(memory.buffer);
      const cb = new BatchControl(memory, 1024);
      for (let i = 0; i < 8; i++) {
        dv.setUint32(2048 + 4 * i, 200, true);
        encodeAddr(u8, 4096 + 24 * i, `127.0.0.1:${first.port}`);
      }
      for (let c = 0; c < 32; c++) {
        const client = udpOpen({ address: "127.0.0.1" });
        cb.setup({ fd: client.fd, count: 8, buffer: 8192, stride: 2048, lengths: 2048, addrs: 4096 });
        expect(udpSendBatch(cb)).toBe(8);
        closeFd(client.fd);
      }
      const deadline = Date.now() + 5000;
      while (counts[0] + counts[1] < 256 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(counts[0] + counts[1]).toBe(256);
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts[1]).toBeGreaterThan(0);
      const t0 = performance.now();
      eventfdWrite(stop);
      expect(await Promise.all(exited)).toEqual([0, 0]);
      console.log(`per-worker datagrams ${counts[0]} + ${counts[1]}; both workers exited ${(performance.now() - t0).toFixed(1)} ms after the stop write`);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
