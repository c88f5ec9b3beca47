/**
 * GSO sends to a GRO socket, received through a GRO area: trains are cut into one slot
 * per segment with their sender and local address, what does not fit a batch comes first
 * in the next one, and nothing is cut: a datagram cut short or a segment over its slot is
 * dropped and counted. Loopback keeps a GSO message whole up to a GRO socket.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEndpoint, encodeAddr, formatLocal } from "./address.js";
import { BatchControl, SEND_COALESCE } from "./batch.js";
import { groAreaBytes, initGroArea } from "./gro.js";
import { closeFd } from "./poll.js";
import { udpOpen, udpRecvBatch, udpSendBatch } from "./udp.js";
import { enterTestNs, ip, sharedMemory, type TestNs } from "./_netns_fixture.js";

// Offsets: control blocks at 0 and 128, send lengths at 1024, receive lengths at 1536, segs
// at 2048, send addresses at 4096, receive addresses at 8192, receive locals at 12288, send
// slots at 65536 and receive slots at 262144 (2048-byte stride), the GRO area at 1 MiB.
const STRIDE = 2048;
const SEND_BUF = 65536;
const RECV_BUF = 262144;
const GRO = 1 << 20;

let ns: TestNs;
const fds: number[] = [];
const memory = sharedMemory();
const u8 = new Uint8Array(memory.buffer);
const dv = new DataView(memory.buffer);
let seq = 0;
/** The control block of the latest send. */
let lastSend: BatchControl;

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

interface Packet { seq: number; len: number; from: string }

/** Sends `sizes.length` packets from `fd` to `to` in one batch (coalesced when `coalesce`); each starts with a fresh sequence number. */
function send(fd: number, from: string, to: string, sizes: number[], coalesce = true): Packet[] {
  const sent: Packet[] = [];
  sizes.forEach((size, i) => {
    const at = SEND_BUF + i * STRIDE;
    u8.fill(seq & 0xff, at, at + size);
    dv.setUint32(at, seq, true);
    dv.setUint32(1024 + 4 * i, size, true);
    encodeAddr(u8, 4096 + 24 * i, to);
    sent.push({ seq: seq++, len: size, from });
  });
  const cb = new BatchControl(memory, 0).setup({
    fd, count: sizes.length, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, flags: coalesce ? SEND_COALESCE : 0,
  });
  expect(udpSendBatch(cb)).toBe(sizes.length);
  lastSend = cb;
  return sent;
}

/** Receives through the GRO area, `count` slots a call, until `want` packets or 2 s. */
function receive(fd: number, want: number, count: number, capacity = STRIDE) {
  const got: (Packet & { local: string; seg: number })[] = [];
  const cb = new BatchControl(memory, 128);
  let truncated = 0, trains = 0, calls = 0;
  const deadline = Date.now() + 2000;
  while (got.length < want && Date.now() < deadline) {
    cb.setup({ fd, count, buffer: RECV_BUF, stride: STRIDE, capacity, lengths: 1536, addrs: 8192, locals: 12288, segs: 2048, gro: GRO });
    const n = udpRecvBatch(cb);
    calls++;
    expect(n).toBeGreaterThanOrEqual(0);
    expect(n).toBeLessThanOrEqual(count);
    truncated += cb.truncated;
    trains += cb.trains;
    for (let i = 0; i < n; i++) {
      const len = dv.getUint32(1536 + 4 * i, true), at = RECV_BUF + i * STRIDE;
      // every byte after the sequence number is the packet's own: nothing of a neighbour
      expect(u8.subarray(at + 4, at + len).every((b) => b === (dv.getUint32(at, true) & 0xff))).toBe(true);
      got.push({ seq: dv.getUint32(at, true), len, from: decodeEndpoint(u8, 8192 + 24 * i), local: formatLocal(u8, 12288 + 24 * i), seg: dv.getUint32(2048 + 4 * i, true) });
    }
  }
  return { got, truncated, trains, calls };
}

const train = (n: number, size: number, tail: number) => [...Array(n).fill(size), tail];

describe("udp recv with a GRO area", () => {
  it("cuts GSO trains of 41 × 1000 B and a short tail, mixed with singles, into one slot each, in order, across calls", () => {
    for (const [host, fmt] of [["127.0.0.1", (p: number) => `127.0.0.1:${p}`], ["::1", (p: number) => `[::1]:${p}`]] as const) {
      const a = open({ address: host, gso: true });
      const single = open({ address: host });
      const rx = open({ address: host, gro: true, rcvbuf: 1 << 22 });
      initGroArea(memory, GRO, 4);
      const to = fmt(rx.port);
      const sent = [
        ...send(a.fd, fmt(a.port), to, train(41, 1000, 500)),
        ...send(single.fd, fmt(single.port), to, [200, 200, 64], false),
        ...send(a.fd, fmt(a.port), to, train(41, 1000, 500)),
        ...send(a.fd, fmt(a.port), to, [148]),
        ...send(a.fd, fmt(a.port), to, train(20, 1452, 1452)),
      ];
      // 16 slots a call: every train spills over into the next calls
      const r = receive(rx.fd, sent.length, 16);
      expect(r.got.map(({ seq, len, from }) => ({ seq, len, from }))).toEqual(sent);
      expect(r.got.every((p) => p.local === host)).toBe(true);
      expect(r.got.filter((p) => p.from === fmt(a.port) && p.len === 1000).every((p) => p.seg === 1000)).toBe(true);
      expect(r.trains).toBe(3);
      expect(r.truncated).toBe(0);
      expect(r.calls).toBeGreaterThanOrEqual(Math.ceil(sent.length / 16));
    }
  });

  it("gives each handshake-sized message of a train its own slot", () => {
    const a = open({ address: "127.0.0.1", gso: true });
    const rx = open({ address: "127.0.0.1", gro: true });
    initGroArea(memory, GRO, 2);
    const sent = [...send(a.fd, `127.0.0.1:${a.port}`, `127.0.0.1:${rx.port}`, [148, 148, 148, 92]), ...send(a.fd, `127.0.0.1:${a.port}`, `127.0.0.1:${rx.port}`, [64, 64])];
    const r = receive(rx.fd, sent.length, 64);
    expect(r.got.map((p) => p.len)).toEqual([148, 148, 148, 92, 64, 64]);
    expect(r.got.map((p) => p.seq)).toEqual(sent.map((p) => p.seq));
  });

  it("drops a datagram cut short (MSG_TRUNC) and a segment over its slot, counts them, delivers the rest", () => {
    const a = open({ address: "127.0.0.1", gso: true });
    const rx = open({ address: "127.0.0.1", gro: true });
    initGroArea(memory, GRO, 4, 4000); // buffers too small for a 41 KB train
    const to = `127.0.0.1:${rx.port}`;
    send(a.fd, `127.0.0.1:${a.port}`, to, train(41, 1000, 500));
    const small = send(a.fd, `127.0.0.1:${a.port}`, to, [300]);
    const r = receive(rx.fd, 1, 64);
    expect(r.got.map((p) => p.seq)).toEqual(small.map((p) => p.seq));
    expect(r.truncated).toBe(1);

    initGroArea(memory, GRO, 4);
    const fits = send(a.fd, `127.0.0.1:${a.port}`, to, train(3, 700, 100));
    const r2 = receive(rx.fd, 4, 64, 800);
    expect(r2.got.map((p) => p.seq)).toEqual(fits.map((p) => p.seq));
    send(a.fd, `127.0.0.1:${a.port}`, to, train(3, 1000, 100));
    const r3 = receive(rx.fd, 1, 64, 800); // 1000-byte segments do not fit 800-byte slots
    expect(r3.got.map((p) => p.len)).toEqual([100]);
    expect(r3.truncated).toBe(3);
  });

  it("reports coalesced messages the kernel refused and sent one by one (segments over the path MTU)", () => {
    ip("link", "add", "ttgso0", "mtu", "600", "type", "veth", "peer", "name", "ttgso1", "mtu", "600");
    ip("link", "set", "ttgso0", "up");
    ip("link", "set", "ttgso1", "up");
    ip("addr", "add", "198.18.77.1/24", "dev", "ttgso0");
    const a = open({ address: "198.18.77.1", gso: true });
    send(a.fd, "198.18.77.1", "198.18.77.2:9", train(9, 1000, 500));
    expect(lastSend.gsoFallbacks).toBe(1);
    send(a.fd, "198.18.77.1", "198.18.77.2:9", train(9, 500, 100));
    expect(lastSend.gsoFallbacks).toBe(0);
    ip("link", "del", "ttgso0");
  });

  it("refuses an area that is not set up, or outside the memory", () => {
    const rx = open({ address: "127.0.0.1", gro: true });
    const cb = new BatchControl(memory, 128);
    u8.fill(0, 2 << 20, (2 << 20) + 64);
    cb.setup({ fd: rx.fd, count: 4, buffer: RECV_BUF, stride: STRIDE, lengths: 1536, gro: 2 << 20 });
    expect(() => udpRecvBatch(cb)).toThrow(/GRO area/);
    initGroArea(memory, GRO, 16);
    cb.setup({ fd: rx.fd, count: 4, buffer: RECV_BUF, stride: STRIDE, lengths: 1536, gro: memory.buffer.byteLength - groAreaBytes(1) });
    expect(() => udpRecvBatch(cb)).toThrow(/GRO area|groPtr/);
    expect(() => initGroArea(memory, GRO, 65)).toThrow(RangeError);
  });
});
