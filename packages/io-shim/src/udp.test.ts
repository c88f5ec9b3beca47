import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AF_INET6, decodeEndpoint, encodeAddr } from "./address.js";
import { BatchControl, MAX_BATCH, SEND_COALESCE } from "./batch.js";
import { SysError } from "./errors.js";
import { closeFd } from "./poll.js";
import { udpOpen, udpPort, udpRecvBatch, udpSendBatch } from "./udp.js";
import { enterTestNs, sharedMemory, type TestNs } from "./_netns_fixture.js";

// Memory layout of these tests (offsets): control blocks at 0 and 128, lengths at 1024 and
// 1536, segs at 2048, address records at 4096 and 8192, send slots at 65536, receive slots
// at 262144 (2048-byte stride, 64 slots each).
const STRIDE = 2048;
const SEND_BUF = 65536;
const RECV_BUF = 262144;

let ns: TestNs;
const fds: number[] = [];
const memory = sharedMemory();
const u8 = new Uint8Array(memory.buffer);
const dv = new DataView(memory.buffer);

beforeAll(() => {
  ns = enterTestNs();
});
afterAll(() => {
  for (const fd of fds.splice(0)) closeFd(fd);
  ns?.dispose();
});

function open(o: Parameters<typeof udpOpen>[0]) {
  const s = udpOpen(o);
  fds.push(s.fd);
  return s;
}

/** Fills n send slots: packet i is `size` bytes, first 4 bytes = i, rest = i & 0xff. */
function fillSend(n: number, size: number, to: string): void {
  for (let i = 0; i < n; i++) {
    const at = SEND_BUF + i * STRIDE;
    u8.fill(i & 0xff, at, at + size);
    dv.setUint32(at, i, true);
    dv.setUint32(1024 + 4 * i, size, true);
    encodeAddr(u8, 4096 + 24 * i, to);
  }
}

/** Receives until `want` packets arrived or 2 s passed. */
function recvAll(cb: BatchControl, fd: number, want: number, segs = false): { lens: number[]; firsts: number[]; segs: number[]; from: string[] } {
  const out = { lens: [] as number[], firsts: [] as number[], segs: [] as number[], from: [] as string[] };
  const deadline = Date.now() + 2000;
  while (out.lens.length < want && Date.now() < deadline) {
    cb.setup({ fd, count: MAX_BATCH, buffer: RECV_BUF, stride: segs ? 0x10000 : STRIDE, lengths: 1536, addrs: 8192, segs: segs ? 2048 : undefined });
    const n = udpRecvBatch(cb);
    expect(n).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < n; i++) {
      out.lens.push(dv.getUint32(1536 + 4 * i, true));
      out.firsts.push(dv.getUint32(RECV_BUF + i * cb.stride, true));
      out.segs.push(dv.getUint32(2048 + 4 * i, true));
      out.from.push(decodeEndpoint(u8, 8192 + 24 * i));
    }
  }
  return out;
}

describe("udp batches", () => {
  it("sends a batch of 64 with one sendmmsg and receives it whole and in order (IPv4)", () => {
    const a = open({ address: "127.0.0.1" });
    const b = open({ address: "127.0.0.1", rcvbuf: 1 << 22 });
    expect(b.port).toBeGreaterThan(0);
    fillSend(64, 1400, `127.0.0.1:${b.port}`);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 64, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(64);
    expect(cb.count).toBe(64);
    expect(cb.errno).toBe(0);
    const got = recvAll(new BatchControl(memory, 128), b.fd, 64);
    expect(got.firsts).toEqual([...Array(64).keys()]);
    expect(got.lens.every((l) => l === 1400)).toBe(true);
    expect(new Set(got.from)).toEqual(new Set([`127.0.0.1:${a.port}`]));
  });

  it("skips slots of length 0 (packets the caller dropped) without sending them", () => {
    const a = open({ address: "127.0.0.1" });
    const b = open({ address: "127.0.0.1", rcvbuf: 1 << 22 });
    fillSend(8, 100, `127.0.0.1:${b.port}`);
    for (const hole of [0, 3, 7]) dv.setUint32(1024 + hole * 4, 0, true);
    u8.fill(0, 4096 + 3 * 24, 4096 + 4 * 24); // a hole's address is never read
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 8, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(5);
    expect(recvAll(new BatchControl(memory, 128), b.fd, 5).firsts).toEqual([1, 2, 4, 5, 6]);
  });

  it("works over IPv6 and reports v4-mapped peers of a dual-stack socket as IPv4", () => {
    const a = open({ address: "::1" });
    const b = open({ address: "::" });
    expect(a.family).toBe(AF_INET6);
    fillSend(64, 1200, `[::1]:${b.port}`);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 64, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(64);
    const got = recvAll(new BatchControl(memory, 128), b.fd, 64);
    expect(got.firsts).toEqual([...Array(64).keys()]);
    expect(got.from[0]).toBe(`[::1]:${a.port}`);

    const v4 = open({ address: "127.0.0.1" });
    fillSend(3, 100, `127.0.0.1:${b.port}`);
    cb.setup({ fd: v4.fd, count: 3, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(3);
    const mapped = recvAll(new BatchControl(memory, 128), b.fd, 3);
    expect(mapped.from).toEqual(Array(3).fill(`127.0.0.1:${v4.port}`));
    // and a dual-stack socket sends to an IPv4 record through the mapped address
    fillSend(2, 100, `127.0.0.1:${v4.port}`);
    cb.setup({ fd: b.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(2);
    expect(recvAll(new BatchControl(memory, 128), v4.fd, 2).from).toEqual(Array(2).fill(`127.0.0.1:${b.port}`));
  });

  it("cuts a datagram longer than the slot capacity and says so in errno", () => {
    const a = open({ address: "127.0.0.1" });
    const b = open({ address: "127.0.0.1" });
    fillSend(2, 1400, `127.0.0.1:${b.port}`);
    dv.setUint32(1024 + 4, 50, true);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(2);
    const r = new BatchControl(memory, 128).setup({ fd: b.fd, count: 64, buffer: RECV_BUF, stride: STRIDE, lengths: 1536, capacity: 100 });
    expect(udpRecvBatch(r)).toBe(2);
    expect([dv.getUint32(1536, true), dv.getUint32(1540, true)]).toEqual([100, 50]);
    expect(r.errno).toBe(90); // EMSGSIZE
  });

  it("returns 0, not an error, when nothing is waiting", () => {
    const a = open({ address: "127.0.0.1" });
    const cb = new BatchControl(memory, 128).setup({ fd: a.fd, count: 64, buffer: RECV_BUF, stride: STRIDE, lengths: 1536 });
    expect(udpRecvBatch(cb)).toBe(0);
    expect(cb.count).toBe(0);
  });

  it("coalesces same-peer runs with UDP_SEGMENT and GRO reports segment sizes", () => {
    const a = open({ address: "127.0.0.1", gso: true });
    const plain = open({ address: "127.0.0.1" });
    const gro = open({ address: "127.0.0.1", gro: true });
    // 40 packets of 1000 bytes and a last short one: one GSO message of 41 datagrams
    fillSend(41, 1000, `127.0.0.1:${plain.port}`);
    dv.setUint32(1024 + 4 * 40, 500, true);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 41, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(41);
    const got = recvAll(new BatchControl(memory, 128), plain.fd, 41);
    expect(got.lens.length).toBe(41);
    expect(got.firsts).toEqual([...Array(41).keys()]);
    expect(got.lens.at(-1)).toBe(500);

    // the same to a GRO socket: fewer, larger reads, with the segment size reported
    fillSend(41, 1000, `127.0.0.1:${gro.port}`);
    dv.setUint32(1024 + 4 * 40, 500, true);
    cb.setup({ fd: a.fd, count: 41, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(41);
    const cbr = new BatchControl(memory, 128);
    const deadline = Date.now() + 2000;
    let bytes = 0;
    const segs: number[] = [];
    while (bytes < 40500 && Date.now() < deadline) {
      cbr.setup({ fd: gro.fd, count: 4, buffer: RECV_BUF, stride: 0x10000, lengths: 1536, segs: 2048 });
      const n = udpRecvBatch(cbr);
      for (let i = 0; i < n; i++) {
        bytes += dv.getUint32(1536 + 4 * i, true);
        segs.push(dv.getUint32(2048 + 4 * i, true));
      }
    }
    expect(bytes).toBe(40500);
    expect(segs).toContain(1000);
    expect(segs.length).toBeLessThan(41);
  });

  it("sends one slot as several datagrams with segSize", () => {
    const a = open({ address: "127.0.0.1", gso: true });
    const b = open({ address: "127.0.0.1" });
    fillSend(1, 1800, `127.0.0.1:${b.port}`);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 1, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, segSize: 600 });
    expect(udpSendBatch(cb)).toBe(1);
    expect(recvAll(new BatchControl(memory, 128), b.fd, 3).lens).toEqual([600, 600, 600]);
  });

  it("shares a port between SO_REUSEPORT sockets", () => {
    const a = open({ address: "127.0.0.1", reusePort: true });
    const b = open({ address: "127.0.0.1", port: a.port, reusePort: true });
    expect(b.port).toBe(a.port);
    expect(() => open({ address: "127.0.0.1", port: a.port })).toThrow(expect.objectContaining({ errno: "EADDRINUSE", op: "udp open" }));
  });

  it("rejects bad input before C, and reports bad fds as errno", () => {
    const a = open({ address: "127.0.0.1" });
    const cb = new BatchControl(memory, 0);
    cb.setup({ fd: a.fd, count: MAX_BATCH + 1, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(() => udpSendBatch(cb)).toThrow(/over MAX_BATCH/);
    cb.setup({ fd: a.fd, count: 64, buffer: memory.buffer.byteLength - 1000, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(() => udpRecvBatch(cb)).toThrow(/bufferPtr .* outside the memory/);
    cb.setup({ fd: a.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: memory.buffer.byteLength - 4, addrs: 4096 });
    expect(() => udpSendBatch(cb)).toThrow(/lengthsPtr/);
    cb.setup({ fd: a.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: memory.buffer.byteLength - 24 });
    expect(() => udpSendBatch(cb)).toThrow(/addrsPtr/);
    cb.setup({ fd: a.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, capacity: STRIDE + 1 });
    expect(() => udpRecvBatch(cb)).toThrow(/capacity/);
    cb.setup({ fd: a.fd, count: 1, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, segSize: 70000 });
    expect(() => udpSendBatch(cb)).toThrow(/segSize/);
    expect(() => cb.setup({ fd: -1, count: 1, buffer: SEND_BUF, stride: STRIDE, lengths: 1024 })).toThrow(/fd/);
    expect(() => new BatchControl(memory, 3)).toThrow(/multiple of 8/);
    expect(() => new BatchControl(memory, memory.buffer.byteLength)).toThrow(/outside/);
    // a length over the stride is refused by C, nothing sent
    fillSend(2, 100, `127.0.0.1:${a.port}`);
    dv.setUint32(1028, STRIDE + 1, true);
    cb.setup({ fd: a.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(-22);
    // an IPv6 peer on an IPv4 socket: the kernel refuses that datagram (EAFNOSUPPORT), it
    // is dropped and the rest of the batch goes out
    fillSend(3, 100, `127.0.0.1:${a.port}`);
    encodeAddr(u8, 4096 + 24, "[::1]:9");
    cb.setup({ fd: a.fd, count: 3, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(3);
    expect(cb.errno).toBe(97);
    const arrived = new BatchControl(memory, 128).setup({ fd: a.fd, count: 64, buffer: RECV_BUF, stride: STRIDE, lengths: 1536 });
    expect(udpRecvBatch(arrived)).toBe(2);
    // a record of an unknown family: nothing is sent
    dv.setUint16(4096, 7, true);
    cb.setup({ fd: a.fd, count: 1, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(-97);
    // a closed fd: -EBADF from the batch, a typed SysError from the slow path
    const c = udpOpen({ address: "127.0.0.1" });
    closeFd(c.fd);
    cb.setup({ fd: c.fd, count: 1, buffer: RECV_BUF, stride: STRIDE, lengths: 1536 });
    expect(udpRecvBatch(cb)).toBe(-9);
    expect(cb.errno).toBe(9);
    expect(() => udpPort(c.fd)).toThrow(SysError);
    expect(() => udpPort(c.fd)).toThrow(expect.objectContaining({ errno: "EBADF", code: 9, op: "udp port" }));
    expect(() => udpOpen({ address: "198.18.0.77" })).toThrow(expect.objectContaining({ errno: "EADDRNOTAVAIL" }));
    expect(() => udpOpen({ port: 70000 })).toThrow(RangeError);
    expect(() => udpPort(1.5)).toThrow(RangeError);
  });
});
