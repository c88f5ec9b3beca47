/**
 * Sticky source addresses and SO_MARK, between two namespaces: a server whose interface
 * has two addresses, A (primary, the kernel's choice for replies) and B, and a client that
 * writes to B. Replies leave from the local address a datagram arrived at (B), and fall
 * over to the kernel's choice (A) once B is removed from the host.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEndpoint, encodeAddr, encodeLocal, formatLocal, LOCAL_SIZE } from "./address.js";
import { BatchControl, MAX_BATCH, SEND_COALESCE } from "./batch.js";
import { SysError } from "./errors.js";
import { linkIndex } from "./netlink.js";
import { withNetns } from "./netns.js";
import { closeFd } from "./poll.js";
import { socketGetMark, socketSetMark, udpOpen, udpRecvBatch, udpSendBatch } from "./udp.js";
import { enterTestNs, ip, sharedMemory, type TestNs } from "./_netns_fixture.js";

// Offsets: control blocks at 0 and 128, lengths at 1024 and 1536, segs at 2048, address
// records at 4096 and 8192, local records at 12288 and 14336, send slots at 65536, receive
// slots at 262144 (2 KiB stride, or 64 KiB for GRO trains).
const STRIDE = 2048;
const SEND_BUF = 65536;
const RECV_BUF = 262144;
const SEND_LOCALS = 12288;
const RECV_LOCALS = 14336;

const memory = sharedMemory();
const u8 = new Uint8Array(memory.buffer);
const dv = new DataView(memory.buffer);
const fds: number[] = [];
let ns: TestNs;
const client = `tt-shim-${process.pid}-peer`;
const dev = "sticky0";
let ifindex = 0;

/** The server's addresses: A first (primary), B the one the client writes to. */
const ADDR = {
  v4: { a: "198.18.7.1", b: "198.18.7.2", prefix: 24, client: "198.18.7.3" },
  // Linux ranks IPv6 sources by the prefix they share with the destination, counted up to
  // each address's own prefix length: A's /120 beats B's /64, so A is the kernel's choice.
  v6: { a: "fd00:7::1", b: "fd00:7::8000", prefix: 64, client: "fd00:7::2" },
};

beforeAll(() => {
  ns = enterTestNs();
  ip("netns", "add", client);
  ip("-n", client, "link", "set", "lo", "up");
  ip("link", "add", `st${process.pid % 100000}a`, "netns", ns.name, "type", "veth", "peer", `st${process.pid % 100000}b`, "netns", client);
  ip("-n", ns.name, "link", "set", `st${process.pid % 100000}a`, "name", dev, "up");
  ip("-n", client, "link", "set", `st${process.pid % 100000}b`, "name", dev, "up");
  for (const [where, v4, v6] of [[ns.name, ADDR.v4.a, `${ADDR.v6.a}/120`], [client, ADDR.v4.client, `${ADDR.v6.client}/64`]]) {
    ip("-n", where, "addr", "add", `${v4}/24`, "dev", dev);
    ip("-n", where, "addr", "add", v6, "dev", dev, "nodad");
  }
  ifindex = linkIndex(dev);
});

afterAll(() => {
  for (const fd of fds.splice(0)) closeFd(fd);
  try {
    ip("netns", "del", client);
  } finally {
    ns?.dispose();
  }
});

function open(o: Parameters<typeof udpOpen>[0], inClient = false) {
  const s = inClient ? withNetns(client, () => udpOpen(o)) : udpOpen(o);
  fds.push(s.fd);
  return s;
}

/** Adds B to the server's interface (a secondary address: removing it leaves A alone). */
function addB(family: "v4" | "v6"): void {
  const { b, prefix } = ADDR[family];
  ip("-n", ns.name, "addr", "add", `${b}/${prefix}`, "dev", dev, ...(family === "v6" ? ["nodad"] : []));
}

function delB(family: "v4" | "v6"): void {
  const { b, prefix } = ADDR[family];
  ip("-n", ns.name, "addr", "del", `${b}/${prefix}`, "dev", dev);
}

/** Sends `n` datagrams of `size` bytes (the last `last` bytes) from fd to `to`, with local records `from` (null: none). */
function send(fd: number, to: string, from: string | null, n = 1, size = 100, coalesce = false, last = size): BatchControl {
  for (let i = 0; i < n; i++) {
    u8.fill(i & 0xff, SEND_BUF + i * STRIDE, SEND_BUF + (i + 1) * STRIDE);
    dv.setUint32(1024 + 4 * i, i === n - 1 ? last : size, true);
    encodeAddr(u8, 4096 + 24 * i, to);
    encodeLocal(u8, SEND_LOCALS + LOCAL_SIZE * i, from, from ? ifindex : 0);
  }
  const cb = new BatchControl(memory, 0).setup({
    fd, count: n, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, locals: SEND_LOCALS, flags: coalesce ? SEND_COALESCE : 0,
  });
  expect(udpSendBatch(cb)).toBe(n);
  return cb;
}

/** Receives until `bytes` bytes arrived (2 s at most): senders, local records, bytes from each sender. */
function receive(fd: number, bytes: number, gro = false) {
  const cb = new BatchControl(memory, 128);
  const out = { from: [] as string[], local: [] as string[], ifindex: [] as number[], bytesFrom: new Map<string, number>(), segs: [] as number[] };
  let got = 0;
  const deadline = Date.now() + 2000;
  while (got < bytes && Date.now() < deadline) {
    cb.setup({ fd, count: gro ? 8 : MAX_BATCH, buffer: RECV_BUF, stride: gro ? 0x10000 : STRIDE, lengths: 1536, addrs: 8192, segs: 2048, locals: RECV_LOCALS });
    const n = udpRecvBatch(cb);
    expect(n).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < n; i++) {
      const from = decodeEndpoint(u8, 8192 + 24 * i);
      const len = dv.getUint32(1536 + 4 * i, true);
      got += len;
      out.from.push(from);
      out.local.push(formatLocal(u8, RECV_LOCALS + LOCAL_SIZE * i));
      out.ifindex.push(dv.getUint32(RECV_LOCALS + LOCAL_SIZE * i + 20, true));
      out.segs.push(dv.getUint32(2048 + 4 * i, true));
      out.bytesFrom.set(from, (out.bytesFrom.get(from) ?? 0) + len);
    }
  }
  return out;
}

const hostPort = (family: "v4" | "v6", host: string, port: number) => (family === "v4" ? `${host}:${port}` : `[${host}]:${port}`);

describe("sticky source addresses", () => {
  for (const { name, family, server } of [
    { name: "an IPv4 socket", family: "v4", server: "0.0.0.0" },
    { name: "a dual-stack socket, IPv4", family: "v4", server: "::" },
    { name: "a dual-stack socket, IPv6", family: "v6", server: "::" },
  ] as const) {
    it(`${name}: a datagram to address B is answered from B, not A; with B removed, from A`, () => {
      const { a, b } = ADDR[family];
      addB(family);
      const s = open({ address: server });
      const c = open({ address: family === "v4" ? "0.0.0.0" : "::" }, true);
      send(c.fd, hostPort(family, b, s.port), null);
      const got = receive(s.fd, 100);
      // where it arrived: B, on the veth
      expect([got.local, got.ifindex]).toEqual([[b], [ifindex]]);
      const peer = got.from[0];
      expect(peer).toBe(hostPort(family, ADDR[family].client, c.port));
      // the reply from the record received: B
      send(s.fd, peer, b);
      expect(receive(c.fd, 100).from).toEqual([hostPort(family, b, s.port)]);
      // without a record the kernel picks A: what a reply would come from without stickiness
      send(s.fd, peer, null);
      expect(receive(c.fd, 100).from).toEqual([hostPort(family, a, s.port)]);
      // B gone: the send falls over to the kernel's choice, and says so
      delB(family);
      const cb = send(s.fd, peer, b);
      expect([cb.fallbacks, cb.errno]).toEqual([1, 0]);
      expect(dv.getUint16(SEND_LOCALS, true)).toBe(0); // family cleared ...
      encodeLocal(u8, RECV_LOCALS, b, ifindex);
      expect(u8.subarray(SEND_LOCALS + 4, SEND_LOCALS + 20)).toEqual(u8.subarray(RECV_LOCALS + 4, RECV_LOCALS + 20)); // ... address kept
      expect(receive(c.fd, 100).from).toEqual([hostPort(family, a, s.port)]);
    });
  }

  it("a GSO run shares its source, and falls over as a whole", () => {
    const { a, b } = ADDR.v4;
    addB("v4");
    const s = open({ address: "0.0.0.0", gso: true });
    const c = open({ address: "0.0.0.0", gro: true }, true);
    send(c.fd, `${b}:${s.port}`, null);
    const peer = receive(s.fd, 100).from[0];
    // 20 packets of 1200 bytes and a short last one, from B: one UDP_SEGMENT message
    const total = 20 * 1200 + 300;
    let cb = send(s.fd, peer, b, 21, 1200, true, 300);
    expect([cb.fallbacks, cb.errno]).toEqual([0, 0]);
    let got = receive(c.fd, total, true);
    expect(got.bytesFrom).toEqual(new Map([[`${b}:${s.port}`, total]]));
    expect(got.segs.some((x) => x === 1200)).toBe(true); // arrived as a GRO train
    delB("v4");
    cb = send(s.fd, peer, b, 21, 1200, true, 300);
    expect([cb.fallbacks, cb.errno]).toEqual([21, 0]);
    got = receive(c.fd, total, true);
    expect(got.bytesFrom).toEqual(new Map([[`${a}:${s.port}`, total]]));
  });

  it("leaves the source alone when the peer is unreachable anyway", () => {
    const s = open({ address: "::" });
    const cb = send(s.fd, "198.18.200.1:9", ADDR.v4.a);
    expect([cb.fallbacks, cb.errno]).toEqual([0, 101]); // ENETUNREACH, dropped
    expect(formatLocal(u8, SEND_LOCALS)).toBe(ADDR.v4.a);
  });

  it("refuses a locals array outside the memory before C", () => {
    const s = open({ address: "0.0.0.0" });
    const cb = new BatchControl(memory, 0).setup({ fd: s.fd, count: 2, buffer: SEND_BUF, stride: STRIDE, lengths: 1024, addrs: 4096, locals: memory.buffer.byteLength - 24 });
    expect(() => udpSendBatch(cb)).toThrow(/localsPtr/);
    expect(() => udpRecvBatch(cb)).toThrow(/localsPtr/);
  });
});

describe("SO_MARK", () => {
  it("sets, reads back and clears a socket's mark, and policy routing sees it", () => {
    const s = open({ address: "0.0.0.0", mark: 0x77 });
    expect(socketGetMark(s.fd)).toBe(0x77);
    socketSetMark(s.fd, 0xfffffffe);
    expect(socketGetMark(s.fd)).toBe(0xfffffffe);
    socketSetMark(s.fd, 0);
    expect(socketGetMark(s.fd)).toBe(0);
    expect(socketGetMark(open({ address: "0.0.0.0" }).fd)).toBe(0);
    // packets with mark 0x77 are prohibited by a rule: the mark is what routing matches
    ip("-n", ns.name, "rule", "add", "fwmark", "0x77", "prohibit");
    try {
      const c = open({ address: "0.0.0.0" }, true);
      socketSetMark(s.fd, 0x77);
      let cb = send(s.fd, `${ADDR.v4.client}:${c.port}`, null);
      expect(cb.errno).toBe(13); // EACCES: dropped by the rule
      socketSetMark(s.fd, 0);
      cb = send(s.fd, `${ADDR.v4.client}:${c.port}`, null);
      expect(cb.errno).toBe(0);
      expect(receive(c.fd, 100).from).toEqual([`${ADDR.v4.a}:${s.port}`]);
    } finally {
      ip("-n", ns.name, "rule", "del", "fwmark", "0x77", "prohibit");
    }
  });

  it("rejects bad marks and fds before C, and reports a closed fd as EBADF", () => {
    const s = open({ address: "0.0.0.0" });
    expect(() => socketSetMark(s.fd, -1)).toThrow(RangeError);
    expect(() => socketSetMark(s.fd, 2 ** 32)).toThrow(RangeError);
    expect(() => udpOpen({ mark: 1.5 })).toThrow(RangeError);
    expect(() => socketGetMark(-1)).toThrow(RangeError);
    const t = udpOpen({ address: "0.0.0.0" });
    closeFd(t.fd);
    expect(() => socketSetMark(t.fd, 1)).toThrow(SysError);
    expect(() => socketGetMark(t.fd)).toThrow(expect.objectContaining({ errno: "EBADF", op: "socket get mark" }));
  });
});
