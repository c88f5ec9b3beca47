/**
 * The receive side of UDP GRO in io-shim: what cutting datagrams in a GRO area costs, by
 * the area's number of 64 KiB buffers, against recvmmsg straight into the slots.
 *
 * One thread in a network namespace this benchmark creates and removes. A sender fills a
 * receiving socket's queue (32 MiB buffer) with DATAGRAMS packets of 1452 bytes, either as
 * single datagrams (no GSO: what many peers or small flows give) or as GSO trains of 44
 * (what a bulk flow from a GSO sender gives); then the queue is drained in batches of 64
 * slots and only the draining is timed. Best of 9 alternating rounds, ns per packet.
 *
 *   pnpm --filter @taltun/benchmarks exec tsx src/udp-gro.ts     (as root)
 */
import { createSharedMemory } from "@taltun/wasm-crypto";
import { execFileSync } from "node:child_process";
import {
  BatchControl, closeFd, encodeAddr, initGroArea, loadIoShim, netnsEnter, netnsRestore, SEND_COALESCE, udpOpen, udpRecvBatch, udpSendBatch,
} from "@taltun/io-shim";

const SIZE = 1452;
const STRIDE = 2048;
const DATAGRAMS = 44 * 200;
const SEND = 1 << 20;
const RECV = 2 << 20;
const GRO = 3 << 20;
const ROUNDS = Number(process.env.GRO_ROUNDS ?? 9);

loadIoShim();
const ns = `tt-grob-${process.pid}`;
execFileSync("ip", ["netns", "add", ns]);
execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
const back = netnsEnter(ns);
try {
  const memory = createSharedMemory(8 << 20);
  const u8 = new Uint8Array(memory.buffer);
  const dv = new DataView(memory.buffer);
  const tx = udpOpen({ address: "127.0.0.1", gso: true, sndbuf: 1 << 24 });
  const send = new BatchControl(memory, 0);
  const recv = new BatchControl(memory, 128);
  const fill = (fd: number, port: number, trains: boolean) => {
    for (let i = 0; i < 44; i++) {
      dv.setUint32(1024 + 4 * i, SIZE, true);
      encodeAddr(u8, 4096 + 24 * i, `127.0.0.1:${port}`);
    }
    for (let sent = 0; sent < DATAGRAMS; sent += 44) {
      send.setup({ fd: tx.fd, count: 44, buffer: SEND, stride: STRIDE, lengths: 1024, addrs: 4096, flags: trains ? SEND_COALESCE : 0 });
      if (udpSendBatch(send) !== 44) throw new Error("send fell short: the receive queue is full");
    }
    void fd;
  };
  const drain = (fd: number, buffers: number): number => {
    if (buffers > 0) initGroArea(memory, GRO, buffers);
    let got = 0;
    const t0 = process.hrtime.bigint();
    for (;;) {
      recv.setup({ fd, count: 64, buffer: RECV, stride: STRIDE, lengths: 1024, addrs: 8192, locals: 12288, gro: buffers > 0 ? GRO : undefined });
      const n = udpRecvBatch(recv);
      if (n <= 0) break;
      got += n;
    }
    const ns = Number(process.hrtime.bigint() - t0) / got;
    if (got !== DATAGRAMS) throw new Error(`received ${got} of ${DATAGRAMS}`);
    return ns;
  };
  const variants = (process.env.GRO_VARIANTS ?? "0,4,8,16,32,64").split(",").map(Number);
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const trains of [false, true]) {
      for (const buffers of variants) {
        if (trains && buffers === 0) continue; // trains need a GRO socket and an area
        const rx = udpOpen({ address: "127.0.0.1", gro: buffers > 0, rcvbuf: 32 << 20 });
        fill(rx.fd, rx.port, trains);
        const ns = drain(rx.fd, buffers);
        closeFd(rx.fd);
        const key = `${trains ? "trains of 44" : "singles"}, ${buffers === 0 ? "recvmmsg into the slots (no GRO)" : `GRO area of ${buffers} x 64 KiB`}`;
        best[key] = Math.min(best[key] ?? Infinity, ns);
      }
    }
  }
  console.log(`\nudp receive, ${DATAGRAMS} packets of ${SIZE} B drained 64 slots a call, best of ${ROUNDS} rounds, ns per packet, ${new Date().toISOString()}`);
  console.table(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, v.toFixed(0)])));
  closeFd(tx.fd);
} finally {
  netnsRestore(back);
  execFileSync("ip", ["netns", "del", ns]);
}
