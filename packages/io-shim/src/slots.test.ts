import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEndpoint, encodeAddr } from "./address.js";
import { BatchControl, MAX_BATCH, SEND_COALESCE, SLOT_ENTRY_SIZE, type SlotEntry, TUN_VNET, writeSlotTable } from "./batch.js";
import { addrAdd, linkSetMtu, linkSetUp } from "./netlink.js";
import { closeFd, pollWait } from "./poll.js";
import { tunOpen, tunReadBatch, tunWriteBatch } from "./tun.js";
import { udpOpen, udpRecvBatch, udpSendBatch } from "./udp.js";
import { enterTestNs, ip, sharedMemory, type TestNs } from "./_netns_fixture.js";

// Memory layout (offsets): control blocks at 0 and 128, lengths at 1024 and 1536, segs at
// 2048, address records at 4096 and 8192, slot tables at 12288 and 16384, a poll block at
// 20480; slot arenas (each slot followed by a guard) at 65536 (send) and 2 MiB (receive).
const LENS_A = 1024;
const LENS_B = 1536;
const SEGS = 2048;
const ADDRS_A = 4096;
const ADDRS_B = 8192;
const TABLE_A = 12288;
const TABLE_B = 16384;
const POLL_CB = 20480;
const SEND_ARENA = 65536;
const RECV_ARENA = 2 << 20;
const GUARD = 64;
const GUARD_BYTE = 0xa5;
const EMSGSIZE = 90;

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

function keep<T extends { fd: number }>(x: T): T {
  fds.push(x.fd);
  return x;
}

/** Lays out slots of the given sizes one after another from `at`, each followed by a guard
 * of GUARD_BYTE that no batch may touch; writes their table at `table`. */
function arena(table: number, at: number, sizes: readonly number[]): SlotEntry[] {
  const entries: SlotEntry[] = [];
  for (const capacity of sizes) {
    entries.push({ offset: at, capacity });
    u8.fill(0, at, at + capacity);
    u8.fill(GUARD_BYTE, at + capacity, at + capacity + GUARD);
    at += capacity + GUARD + ((8 - ((capacity + GUARD) % 8)) % 8);
  }
  writeSlotTable(memory, table, entries);
  return entries;
}

function expectGuardsIntact(entries: readonly SlotEntry[]): void {
  const hit = entries.filter((e) => !u8.subarray(e.offset + e.capacity, e.offset + e.capacity + GUARD).every((b) => b === GUARD_BYTE));
  expect(hit.map((e) => `slot at ${e.offset} (capacity ${e.capacity})`)).toEqual([]);
}

/** Datagram/packet `tag` of `len` bytes: 4-byte tag, then bytes (tag + j) & 0xff. */
function fill(at: number, len: number, tag: number): void {
  for (let j = 0; j < len; j++) u8[at + j] = (tag + j) & 0xff;
  if (len >= 4) dv.setUint32(at, tag, true);
}

function holds(at: number, len: number, tag: number): boolean {
  if (len >= 4 && dv.getUint32(at, true) !== tag) return false;
  for (let j = 4; j < len; j++) if (u8[at + j] !== ((tag + j) & 0xff)) return false;
  return true;
}

function waitReadable(fd: number, ms: number): void {
  const p = new BatchControl(memory, POLL_CB).setPollFds([fd]);
  p.timeoutMs = ms;
  pollWait(p);
}

/** Receives `count` datagrams into the slots of TABLE_B in order: when a call gets fewer,
 * the next one starts at the next table entry (a table can be entered anywhere). */
function recvSlots(fd: number, count: number, segs = false): number {
  const cb = new BatchControl(memory, 128);
  let got = 0;
  const deadline = Date.now() + 2000;
  while (got < count && Date.now() < deadline) {
    cb.setup({ fd, count: count - got, slots: TABLE_B + SLOT_ENTRY_SIZE * got, lengths: LENS_B + 4 * got, addrs: ADDRS_B + 24 * got, segs: segs ? SEGS + 4 * got : undefined });
    const n = udpRecvBatch(cb);
    expect(n).toBeGreaterThanOrEqual(0);
    if (n === 0) waitReadable(fd, 50);
    got += n;
    if (cb.errno !== 0) lastRecvErrno = cb.errno;
  }
  return got;
}
let lastRecvErrno = 0;

const recvLens = (n: number) => Array.from({ length: n }, (_, i) => dv.getUint32(LENS_B + 4 * i, true));

function csum(b: Uint8Array, from: number, to: number, seed = 0): number {
  let s = seed;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4/UDP packet at `at` (UDP checksum 0), payload filled as `fill(tag)`; its length. */
function udp4(at: number, src: number[], dst: number[], sport: number, dport: number, payloadLen: number, tag: number): number {
  const len = 28 + payloadLen;
  u8.fill(0, at, at + 28);
  u8[at] = 0x45;
  dv.setUint16(at + 2, len);
  u8[at + 8] = 64;
  u8[at + 9] = 17;
  u8.set(src, at + 12);
  u8.set(dst, at + 16);
  dv.setUint16(at + 10, csum(u8, at, at + 20));
  dv.setUint16(at + 20, sport);
  dv.setUint16(at + 22, dport);
  dv.setUint16(at + 24, 8 + payloadLen);
  fill(at + 28, payloadLen, tag);
  return len;
}

/** TCP/IPv4 segment k of one flow (100.64.23.2:12345 -> 100.64.23.1:5201): 40 bytes of
 * headers, `size` bytes of payload, checksums right; its length. */
function tcp4(at: number, k: number, size: number, flags: number): number {
  const total = 40 + size;
  u8.fill(0, at, at + 40);
  u8[at] = 0x45;
  dv.setUint16(at + 2, total);
  dv.setUint16(at + 4, k);
  u8[at + 6] = 0x40;
  u8[at + 8] = 64;
  u8[at + 9] = 6;
  u8.set([100, 64, 23, 2, 100, 64, 23, 1], at + 12);
  dv.setUint16(at + 10, csum(u8, at, at + 20));
  dv.setUint16(at + 20, 12345);
  dv.setUint16(at + 22, 5201);
  dv.setUint32(at + 24, 1000 + k * 1300);
  dv.setUint32(at + 28, 7);
  u8[at + 32] = 0x50;
  u8[at + 33] = flags;
  dv.setUint16(at + 34, 0x1000);
  for (let j = 0; j < size; j++) u8[at + 40 + j] = (k * 7 + j) & 0xff;
  const pseudo = new Uint8Array([...u8.subarray(at + 12, at + 20), 0, 6, (20 + size) >> 8, (20 + size) & 0xff]);
  dv.setUint16(at + 36, csum(u8, at + 20, at + total, 0xffff & ~csum(pseudo, 0, 12)));
  return total;
}

/** A TUN device in the test namespace without IPv6, so that no router solicitation takes
 * a slot meant for the test's packets. */
function tunUp(name: string, cidr: string, mtu: number, o: Parameters<typeof tunOpen>[1] = {}) {
  const tun = keep(tunOpen(name, o));
  ip("netns", "exec", ns.name, "sysctl", "-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=1`);
  addrAdd(name, cidr);
  linkSetMtu(name, mtu);
  linkSetUp(name, true);
  return tun;
}

/** Reads TUN packets into the slots of TABLE_B in order, like recvSlots. */
function readSlots(fd: number, count: number, flags = 0, ms = 2000): { got: number; errno: number } {
  const cb = new BatchControl(memory, 0);
  let got = 0;
  let errno = 0;
  const deadline = Date.now() + ms;
  while (got < count && Date.now() < deadline) {
    cb.setup({ fd, count: count - got, slots: TABLE_B + SLOT_ENTRY_SIZE * got, lengths: LENS_B + 4 * got, flags });
    const n = tunReadBatch(cb);
    expect(n).toBeGreaterThanOrEqual(0);
    if (cb.errno !== 0) errno = cb.errno;
    if (n === 0) waitReadable(fd, 50);
    got += n;
  }
  return { got, errno };
}

describe("slot tables: slots of any size", () => {
  it.each([
    ["IPv4", "127.0.0.1", (port: number) => `127.0.0.1:${port}`],
    ["IPv6", "::1", (port: number) => `[::1]:${port}`],
  ])("%s: sends and receives 64 B, 2 KiB, 9000 B and 64 KiB slots in one batch; a datagram longer than its slot is cut at the slot's end", (_, address, peer) => {
    const a = keep(udpOpen({ address }));
    const b = keep(udpOpen({ address, rcvbuf: 4 << 20 }));
    const sizes = [64, 2048, 9000, 65535];
    const send = arena(TABLE_A, SEND_ARENA, sizes);
    const recv = arena(TABLE_B, RECV_ARENA, sizes);
    // every slot filled to its capacity, but the largest: a UDP datagram carries at most 65507 bytes over IPv4
    const lens = [64, 2048, 9000, 65000];
    send.forEach((s, i) => {
      fill(s.offset, lens[i], 0x100 + i);
      dv.setUint32(LENS_A + 4 * i, lens[i], true);
      encodeAddr(u8, ADDRS_A + 24 * i, peer(b.port));
    });
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 4, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
    expect(cb.slotsPtr).toBe(cb.addressOf(TABLE_A));
    expect(udpSendBatch(cb)).toBe(4);
    expect(cb.errno).toBe(0);
    lastRecvErrno = 0;
    expect(recvSlots(b.fd, 4)).toBe(4);
    expect(recvLens(4)).toEqual(lens);
    recv.forEach((r, i) => expect(holds(r.offset, lens[i], 0x100 + i)).toBe(true));
    expect(decodeEndpoint(u8, ADDRS_B)).toBe(peer(a.port));
    expect(lastRecvErrno).toBe(0);
    expectGuardsIntact(send);
    expectGuardsIntact(recv);

    // one byte more than each receive slot holds (the last fits): cut, EMSGSIZE, guards untouched
    const big = arena(TABLE_A, SEND_ARENA, [128, 4096, 16384, 128]);
    const over = [65, 2049, 9001, 100];
    big.forEach((s, i) => {
      fill(s.offset, over[i], 0x200 + i);
      dv.setUint32(LENS_A + 4 * i, over[i], true);
    });
    arena(TABLE_B, RECV_ARENA, sizes);
    cb.setup({ fd: a.fd, count: 4, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
    expect(udpSendBatch(cb)).toBe(4);
    lastRecvErrno = 0;
    expect(recvSlots(b.fd, 4)).toBe(4);
    expect(recvLens(4)).toEqual([64, 2048, 9000, 100]);
    expect(lastRecvErrno).toBe(EMSGSIZE);
    recv.forEach((r, i) => expect(holds(r.offset, Math.min(over[i], r.capacity), 0x200 + i)).toBe(true));
    expectGuardsIntact(recv);

    // a send length over its slot's capacity: the batch is refused, nothing goes out
    arena(TABLE_A, SEND_ARENA, sizes);
    dv.setUint32(LENS_A, 10, true);
    dv.setUint32(LENS_A + 4, 2049, true);
    cb.setup({ fd: a.fd, count: 2, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
    expect(udpSendBatch(cb)).toBe(-22);
    expect(cb.errno).toBe(22);
    const none = new BatchControl(memory, 128).setup({ fd: b.fd, count: 4, slots: TABLE_B, lengths: LENS_B });
    expect(udpRecvBatch(none)).toBe(0);
  });

  it("receives a GRO train into a 64 KiB slot beside a 64-byte one, sent with SEND_COALESCE from slots of mixed sizes", () => {
    const a = keep(udpOpen({ address: "127.0.0.1", gso: true }));
    const other = keep(udpOpen({ address: "127.0.0.1" }));
    const g = keep(udpOpen({ address: "127.0.0.1", gro: true, rcvbuf: 4 << 20 }));
    // 40 segments of 1000 bytes and a last of 500, from slots of 1000, 1500 and 9000 bytes
    const send = arena(TABLE_A, SEND_ARENA, Array.from({ length: 41 }, (_, i) => [1000, 1500, 9000][i % 3]));
    send.forEach((s, i) => {
      const len = i === 40 ? 500 : 1000;
      fill(s.offset, len, i);
      dv.setUint32(LENS_A + 4 * i, len, true);
      encodeAddr(u8, ADDRS_A + 24 * i, `127.0.0.1:${g.port}`);
    });
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 41, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(41);
    expect(cb.errno).toBe(0);
    // then one small datagram from another socket, which GRO does not merge with the train
    fill(SEND_ARENA, 50, 0x77);
    dv.setUint32(LENS_A, 50, true);
    cb.setup({ fd: other.fd, count: 1, buffer: SEND_ARENA, stride: 1000, lengths: LENS_A, addrs: ADDRS_A });
    expect(udpSendBatch(cb)).toBe(1);

    const recv = arena(TABLE_B, RECV_ARENA, [65536, 64]);
    lastRecvErrno = 0;
    expect(recvSlots(g.fd, 2, true)).toBe(2);
    expect(recvLens(2)).toEqual([40_500, 50]);
    expect([dv.getUint32(SEGS, true), dv.getUint32(SEGS + 4, true)]).toEqual([1000, 0]);
    for (let k = 0; k < 41; k++) expect(holds(recv[0].offset + 1000 * k, k === 40 ? 500 : 1000, k)).toBe(true);
    expect(holds(recv[1].offset, 50, 0x77)).toBe(true);
    expect(lastRecvErrno).toBe(0);
    expectGuardsIntact(recv);

    // the same train into a 4 KiB slot: cut at the slot's end, nothing written past it
    send.forEach((s, i) => encodeAddr(u8, ADDRS_A + 24 * i, `127.0.0.1:${g.port}`));
    send.forEach((_, i) => dv.setUint32(LENS_A + 4 * i, i === 40 ? 500 : 1000, true));
    cb.setup({ fd: a.fd, count: 41, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(41);
    const small = arena(TABLE_B, RECV_ARENA, [4096]);
    lastRecvErrno = 0;
    expect(recvSlots(g.fd, 1, true)).toBe(1);
    expect(recvLens(1)).toEqual([4096]);
    expect(lastRecvErrno).toBe(EMSGSIZE);
    expectGuardsIntact(small);
  });

  it("sends one 60000-byte slot as 50 datagrams with segSize (GSO), received into a stride layout", () => {
    const a = keep(udpOpen({ address: "::1", gso: true }));
    const b = keep(udpOpen({ address: "::1", rcvbuf: 4 << 20 }));
    const send = arena(TABLE_A, SEND_ARENA, [64, 65535]);
    for (let k = 0; k < 50; k++) fill(send[1].offset + 1200 * k, 1200, k);
    dv.setUint32(LENS_A, 0, true); // a hole in the small slot
    dv.setUint32(LENS_A + 4, 60_000, true);
    encodeAddr(u8, ADDRS_A + 24, `[::1]:${b.port}`);
    const cb = new BatchControl(memory, 0).setup({ fd: a.fd, count: 2, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A, segSize: 1200 });
    expect(udpSendBatch(cb)).toBe(1);
    expect(cb.errno).toBe(0);
    const r = new BatchControl(memory, 128);
    const lens: number[] = [];
    let inOrder = true;
    const deadline = Date.now() + 2000;
    while (lens.length < 50 && Date.now() < deadline) {
      r.setup({ fd: b.fd, count: MAX_BATCH, buffer: RECV_ARENA, stride: 2048, lengths: LENS_B });
      const n = udpRecvBatch(r);
      if (n === 0) waitReadable(b.fd, 50);
      for (let i = 0; i < n; i++) {
        inOrder &&= holds(RECV_ARENA + 2048 * i, 1200, lens.length);
        lens.push(dv.getUint32(LENS_B + 4 * i, true));
      }
    }
    expect(lens).toEqual(Array(50).fill(1200));
    expect(inOrder).toBe(true);
    expectGuardsIntact(send);
  });

  it("moves 9000-byte packets through a TUN of MTU 9000 with mixed-size slots; a packet longer than its slot is dropped (EMSGSIZE)", () => {
    const tun = tunUp("ttjumbo0", "100.64.21.1/24", 9000);
    const s = keep(udpOpen({ address: "100.64.21.1", rcvbuf: 4 << 20 }));
    // three datagrams routed into the TUN: IP packets of 9000, 128 and 1428 bytes
    const payloads = [8972, 100, 1400];
    const send = arena(TABLE_A, SEND_ARENA, [9000, 9000, 9000]);
    send.forEach((e, i) => {
      fill(e.offset, payloads[i], 0x300 + i);
      dv.setUint32(LENS_A + 4 * i, payloads[i], true);
      encodeAddr(u8, ADDRS_A + 24 * i, "100.64.21.2:9999");
    });
    const cb = new BatchControl(memory, 0).setup({ fd: s.fd, count: 3, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
    expect(udpSendBatch(cb)).toBe(3);
    const recv = arena(TABLE_B, RECV_ARENA, [9000, 128, 2048]);
    const got = readSlots(tun.fd, 3);
    expect(got).toEqual({ got: 3, errno: 0 });
    expect(recvLens(3)).toEqual([9000, 128, 1428]);
    recv.forEach((e, i) => {
      expect([u8[e.offset], u8[e.offset + 9]]).toEqual([0x45, 17]);
      expect(holds(e.offset + 28, payloads[i], 0x300 + i)).toBe(true);
    });
    expectGuardsIntact(recv);

    // the 9000-byte packet first, into a 2048-byte slot: dropped, and the next packet takes that slot
    cb.setup({ fd: s.fd, count: 3, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
    expect(udpSendBatch(cb)).toBe(3);
    const small = arena(TABLE_B, RECV_ARENA, [2048, 2048]);
    expect(readSlots(tun.fd, 2)).toEqual({ got: 2, errno: EMSGSIZE });
    expect(recvLens(2)).toEqual([128, 1428]);
    expect(holds(small[0].offset + 28, 100, 0x301)).toBe(true);
    expectGuardsIntact(small);

    // replies written from slots of 9000 and 128 bytes, with a hole between: they arrive whole
    const out = arena(TABLE_A, SEND_ARENA, [9000, 4096, 128]);
    dv.setUint32(LENS_A, udp4(out[0].offset, [100, 64, 21, 2], [100, 64, 21, 1], 9999, s.port, 8972, 0x400), true);
    dv.setUint32(LENS_A + 4, 0, true);
    dv.setUint32(LENS_A + 8, udp4(out[2].offset, [100, 64, 21, 2], [100, 64, 21, 1], 9999, s.port, 100, 0x401), true);
    cb.setup({ fd: tun.fd, count: 3, slots: TABLE_A, lengths: LENS_A });
    expect(tunWriteBatch(cb)).toBe(2);
    const back = arena(TABLE_B, RECV_ARENA, [65535, 2048]);
    expect(recvSlots(s.fd, 2)).toBe(2);
    expect(recvLens(2)).toEqual([8972, 100]);
    expect(holds(back[0].offset, 8972, 0x400) && holds(back[1].offset, 100, 0x401)).toBe(true);
    expectGuardsIntact(out);
    expectGuardsIntact(back);

    // a write length over its slot's capacity: the batch is refused, nothing written
    dv.setUint32(LENS_A + 8, 129, true);
    cb.setup({ fd: tun.fd, count: 3, slots: TABLE_A, lengths: LENS_A });
    expect(tunWriteBatch(cb)).toBe(-22);
    expect(cb.errno).toBe(22);
  });

  it("answers 9000-byte pings (no fragmentation) through a TUN of MTU 9000, read and written in place in slots of mixed sizes", async () => {
    const tun = tunUp("ttjping0", "100.64.22.1/24", 9000);
    const ping = spawn("ip", ["netns", "exec", ns.name, "ping", "-n", "-c", "3", "-i", "0.2", "-s", "8972", "-M", "do", "-W", "2", "-w", "5", "100.64.22.2"], { stdio: "pipe" });
    let out = "";
    ping.stdout.on("data", (d) => (out += d));
    ping.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number>((resolve) => ping.on("exit", (code) => resolve(code ?? -1)));
    let done = false;
    void exited.then(() => (done = true));
    const slots = arena(TABLE_B, RECV_ARENA, [9000, 65535, 16384, 9000]);
    const cb = new BatchControl(memory, 0);
    let replied = 0;
    const sizes = new Set<number>();
    const deadline = Date.now() + 8000;
    try {
      while (!done && Date.now() < deadline) {
        cb.setup({ fd: tun.fd, count: 4, slots: TABLE_B, lengths: LENS_B });
        const n = tunReadBatch(cb);
        let replies = 0;
        for (let i = 0; i < n; i++) {
          // each request becomes its reply in its own slot; anything else becomes a hole
          const at = slots[i].offset;
          const len = dv.getUint32(LENS_B + 4 * i, true);
          if (u8[at] >> 4 !== 4 || u8[at + 9] !== 1 || u8[at + 20] !== 8) {
            dv.setUint32(LENS_B + 4 * i, 0, true);
            continue;
          }
          sizes.add(len);
          const src = u8.slice(at + 12, at + 16);
          u8.copyWithin(at + 12, at + 16, at + 20);
          u8.set(src, at + 16);
          dv.setUint16(at + 10, 0);
          dv.setUint16(at + 10, csum(u8, at, at + 20));
          u8[at + 20] = 0;
          dv.setUint16(at + 22, 0);
          dv.setUint16(at + 22, csum(u8, at + 20, at + len));
          replies++;
        }
        if (replies > 0) {
          cb.setup({ fd: tun.fd, count: n, slots: TABLE_B, lengths: LENS_B });
          expect(tunWriteBatch(cb)).toBe(replies);
          replied += replies;
        }
        if (n === 0) await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      if (!done) ping.kill();
    }
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(await exited).toBe(0);
    expect([...sizes]).toEqual([9000]);
    expect(replied).toBe(3);
    expectGuardsIntact(slots);
  });

  it("with TUN_VNET, cuts a UDP super-packet into mixed-size slots, one segment per slot, each bounded by its slot", () => {
    const tun = tunUp("ttjseg0", "100.64.24.1/24", 9000, { vnetHdr: true, offload: true });
    const s = keep(udpOpen({ address: "100.64.24.1", gso: true }));
    const send = arena(TABLE_A, SEND_ARENA, Array(10).fill(1000));
    send.forEach((e, i) => {
      fill(e.offset, 1000, 0x500 + i);
      dv.setUint32(LENS_A + 4 * i, 1000, true);
      encodeAddr(u8, ADDRS_A + 24 * i, "100.64.24.2:9999");
    });
    const cb = new BatchControl(memory, 0).setup({ fd: s.fd, count: 10, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(10);
    // ten 1028-byte IP packets: an exact fit, a 64 KiB slot that still takes only one, ...,
    // and a last slot one byte too small, whose segment is dropped
    const recv = arena(TABLE_B, RECV_ARENA, [1028, 65535, 2048, 4096, 4096, 4096, 4096, 4096, 9000, 1027]);
    const got = readSlots(tun.fd, 10, TUN_VNET, 500);
    expect(got).toEqual({ got: 9, errno: EMSGSIZE });
    expect(recvLens(9)).toEqual(Array(9).fill(1028));
    recv.slice(0, 9).forEach((e, i) => {
      expect(dv.getUint16(e.offset + 2)).toBe(1028);
      expect(csum(u8, e.offset, e.offset + 20)).toBe(0);
      expect(holds(e.offset + 28, 1000, 0x500 + i)).toBe(true);
    });
    expectGuardsIntact(recv);
  });

  it("with TUN_VNET, merges TCP segments written from slots of different sizes into one GSO write (GRO); a hole ends the run", () => {
    const tun = tunUp("ttjgro0", "100.64.23.1/24", 1500, { vnetHdr: true, offload: true });
    const rxPackets = () => ns.json<{ stats64: { rx: { packets: number } } }[]>("-s", "link", "show", "dev", "ttjgro0")[0].stats64.rx.packets;
    const slots = arena(TABLE_A, SEND_ARENA, [1340, 9000, 2048, 65535, 1340, 800]);
    const write = () => {
      slots.forEach((e, k) => dv.setUint32(LENS_A + 4 * k, tcp4(e.offset, k, k === 5 ? 700 : 1300, k === 5 ? 0x18 : 0x10), true));
    };
    write();
    const cb = new BatchControl(memory, 0).setup({ fd: tun.fd, count: 6, slots: TABLE_A, lengths: LENS_A, flags: TUN_VNET });
    let before = rxPackets();
    expect(tunWriteBatch(cb)).toBe(6);
    expect(rxPackets() - before).toBe(1); // six segments, one write
    write();
    dv.setUint32(LENS_A + 4 * 2, 0, true); // the caller dropped segment 2
    cb.setup({ fd: tun.fd, count: 6, slots: TABLE_A, lengths: LENS_A, flags: TUN_VNET });
    before = rxPackets();
    expect(tunWriteBatch(cb)).toBe(5);
    expect(rxPackets() - before).toBe(2); // 0-1 merged, then 3-5: two writes
    expectGuardsIntact(slots);
  });

  it("rejects hostile slot tables before C", () => {
    const a = keep(udpOpen({ address: "127.0.0.1" }));
    const size = memory.buffer.byteLength;
    const cb = new BatchControl(memory, 0);
    const entry = (i: number, address: number, capacity: number) => {
      dv.setBigUint64(TABLE_A + SLOT_ENTRY_SIZE * i, BigInt(address), true);
      dv.setUint32(TABLE_A + SLOT_ENTRY_SIZE * i + 8, capacity, true);
    };
    const ops = [udpRecvBatch, udpSendBatch, tunReadBatch, tunWriteBatch];
    const refuse = (count: number, pattern: RegExp) => {
      for (const op of ops) {
        cb.setup({ fd: a.fd, count, slots: TABLE_A, lengths: LENS_A, addrs: ADDRS_A });
        expect(() => op(cb)).toThrow(pattern);
      }
    };
    arena(TABLE_A, SEND_ARENA, [64, 2048]);
    entry(1, cb.addressOf(size), 16); // address at the memory's end
    refuse(2, /slotsPtr entry 1 region .* outside the memory/);
    entry(1, cb.base - 4096, 16); // below the memory
    refuse(2, /slotsPtr entry 1 region .* outside the memory/);
    entry(1, 0, 16);
    refuse(2, /slotsPtr entry 1 has address 0/);
    entry(1, cb.addressOf(SEND_ARENA), 0);
    refuse(2, /slotsPtr entry 1 has capacity 0/);
    entry(1, cb.addressOf(size - 100), 101); // capacity past the memory's end
    refuse(2, /slotsPtr entry 1 region \[\d+, \d+\) .* outside the memory of \d+ bytes/);
    entry(1, cb.addressOf(SEND_ARENA), 0xffffffff);
    refuse(2, /slotsPtr entry 1 region/);
    arena(TABLE_A, SEND_ARENA, Array(MAX_BATCH + 1).fill(16));
    refuse(MAX_BATCH + 1, /count 65 is over MAX_BATCH/);
    // the table itself must lie inside the memory
    for (const op of ops) {
      cb.setup({ fd: a.fd, count: 2, slots: size - SLOT_ENTRY_SIZE, lengths: LENS_A, addrs: ADDRS_A });
      expect(() => op(cb)).toThrow(/slotsPtr region/);
    }
    // a table beside a stride layout is ambiguous
    expect(() => cb.setup({ fd: a.fd, count: 1, slots: TABLE_A, buffer: SEND_ARENA, stride: 2048, lengths: LENS_A })).toThrow(TypeError);
    expect(() => cb.setup({ fd: a.fd, count: 1, slots: TABLE_A, capacity: 100, lengths: LENS_A })).toThrow(TypeError);
    expect(() => cb.setup({ fd: a.fd, count: 1, lengths: LENS_A })).toThrow(/buffer and stride are needed/);
    cb.setup({ fd: a.fd, count: 1, slots: TABLE_A, lengths: LENS_A });
    cb.stride = 2048;
    expect(() => udpRecvBatch(cb)).toThrow(/stride, bufferPtr and capacity must be 0 with slotsPtr/);
    // writeSlotTable checks what it writes
    expect(() => writeSlotTable(memory, TABLE_A, [{ offset: SEND_ARENA, capacity: 0 }])).toThrow(/entries\[0\]\.capacity/);
    expect(() => writeSlotTable(memory, TABLE_A, [{ offset: 0, capacity: 1 }, { offset: size - 10, capacity: 11 }])).toThrow(/entries\[1\] region \[\d+, \d+\) is outside/);
    expect(() => writeSlotTable(memory, TABLE_A, [{ offset: -1, capacity: 1 }])).toThrow(RangeError);
    expect(() => writeSlotTable(memory, size - 8, [{ offset: 0, capacity: 1 }])).toThrow(/tableOffset/);
    expect(() => writeSlotTable(memory, TABLE_A, [{ offset: "0", capacity: 1 } as unknown as SlotEntry])).toThrow(TypeError);
    // nothing reached C: the socket is still empty and usable
    arena(TABLE_A, SEND_ARENA, [64]);
    cb.setup({ fd: a.fd, count: 1, slots: TABLE_A, lengths: LENS_A });
    expect(udpRecvBatch(cb)).toBe(0);
  });
});
