import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchControl, SEND_COALESCE, TUN_VNET, VNET_HDR_LEN } from "./batch.js";
import { encodeAddr } from "./address.js";
import { addrAdd, linkSetMtu, linkSetUp } from "./netlink.js";
import { closeFd } from "./poll.js";
import { pollWait } from "./poll.js";
import { TUN_F_CSUM, TUN_F_USO4, tunOpen, tunOpenQueue, tunReadBatch, tunWriteBatch, VNET_GSO_SIZE, VNET_GSO_TYPE, VNET_GSO_UDP_L4 } from "./tun.js";
import { udpOpen, udpRecvBatch, udpSendBatch } from "./udp.js";
import { enterTestNs, sharedMemory, type TestNs } from "./_netns_fixture.js";

// Offsets: control block 0, lengths 1024, addrs 4096, slots from 65536 (stride 2048),
// big slots (vnet/GSO reads) from 262144 (stride 65536).
const STRIDE = 2048;
const SLOTS = 65536;
const memory = sharedMemory();
const u8 = new Uint8Array(memory.buffer);
const dv = new DataView(memory.buffer);
let ns: TestNs;
const fds: number[] = [];

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

function csum(b: Uint8Array, from: number, to: number, seed = 0): number {
  let s = seed;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Writes an IPv4/UDP packet (UDP checksum 0: allowed for IPv4) at `at`; returns its length. */
function udp4(at: number, src: number[], dst: number[], sport: number, dport: number, payload: Uint8Array): number {
  const len = 28 + payload.length;
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
  dv.setUint16(at + 24, 8 + payload.length);
  u8.set(payload, at + 28);
  return len;
}

/** Reads TUN packets for up to `ms`, keeping the IPv4 ones (IPv6 router solicitations may come too). */
function readV4(cb: BatchControl, fd: number, want: number, ms = 2000): { batches: number[]; pkts: Uint8Array[] } {
  const pkts: Uint8Array[] = [];
  const batches: number[] = [];
  const deadline = Date.now() + ms;
  while (pkts.length < want && Date.now() < deadline) {
    cb.setup({ fd, count: 64, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    const n = tunReadBatch(cb);
    expect(n).toBeGreaterThanOrEqual(0);
    if (n === 0) {
      cb.setPollFds([fd]);
      cb.timeoutMs = 50;
      pollWait(cb);
      continue;
    }
    batches.push(n);
    for (let i = 0; i < n; i++) {
      const p = u8.slice(SLOTS + i * STRIDE, SLOTS + i * STRIDE + dv.getUint32(1024 + 4 * i, true));
      if (p[0] >> 4 === 4) pkts.push(p);
    }
  }
  return { batches, pkts };
}

describe("tun", () => {
  it("reads a batch of routed packets and writes replies the kernel delivers", () => {
    const tun = keep(tunOpen("ttrt0"));
    expect(tun.name).toBe("ttrt0");
    addrAdd("ttrt0", "100.64.7.1/24");
    linkSetUp("ttrt0", true);
    const cb = new BatchControl(memory, 0);
    readV4(cb, tun.fd, 1000, 100); // drain whatever the kernel sent on link up

    // five datagrams to 100.64.7.2, which is routed into the TUN, sent in one batch
    const s = keep(udpOpen({ address: "100.64.7.1" }));
    for (let i = 0; i < 5; i++) {
      u8.fill(0x40 + i, SLOTS + i * STRIDE, SLOTS + i * STRIDE + 100);
      dv.setUint32(1024 + 4 * i, 100, true);
      encodeAddr(u8, 4096 + 24 * i, "100.64.7.2:9999");
    }
    cb.setup({ fd: s.fd, count: 5, buffer: SLOTS, stride: STRIDE, lengths: 1024, addrs: 4096 });
    expect(udpSendBatch(cb)).toBe(5);
    const got = readV4(cb, tun.fd, 5);
    expect(got.pkts.length).toBe(5);
    expect(Math.max(...got.batches)).toBeGreaterThan(1); // several packets per batch read
    for (const [i, p] of got.pkts.entries()) {
      expect(p[9]).toBe(17);
      expect([...p.subarray(16, 20)]).toEqual([100, 64, 7, 2]);
      expect((p[22] << 8) | p[23]).toBe(9999);
      expect(p[28]).toBe(0x40 + i);
    }

    // three crafted replies, written with one batch, arrive at the socket
    for (let i = 0; i < 3; i++) {
      const len = udp4(SLOTS + i * STRIDE, [100, 64, 7, 2], [100, 64, 7, 1], 9999, s.port, new Uint8Array(50).fill(0x70 + i));
      dv.setUint32(1024 + 4 * i, len, true);
    }
    cb.setup({ fd: tun.fd, count: 3, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    expect(tunWriteBatch(cb)).toBe(3);
    const rcv: number[] = [];
    const deadline = Date.now() + 2000;
    while (rcv.length < 3 && Date.now() < deadline) {
      cb.setup({ fd: s.fd, count: 64, buffer: 262144, stride: STRIDE, lengths: 2048, addrs: 8192 });
      const n = udpRecvBatch(cb);
      for (let i = 0; i < n; i++) rcv.push(u8[262144 + i * STRIDE]);
    }
    expect(rcv).toEqual([0x70, 0x71, 0x72]);
  });

  it("answers ping through the TUN: echo requests read in batches, replies written back", async () => {
    const tun = keep(tunOpen("ttping0"));
    addrAdd("ttping0", "100.64.8.1/24");
    linkSetUp("ttping0", true);
    const ping = spawn("ip", ["netns", "exec", ns.name, "ping", "-n", "-c", "4", "-i", "0.2", "-W", "2", "-w", "5", "100.64.8.2"], { stdio: "pipe" });
    let out = "";
    ping.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number>((resolve) => ping.on("exit", (code) => resolve(code ?? -1)));
    let done = false;
    void exited.then(() => (done = true));
    const cb = new BatchControl(memory, 0);
    const deadline = Date.now() + 8000;
    let replied = 0;
    try {
      while (!done && Date.now() < deadline) {
        cb.setup({ fd: tun.fd, count: 64, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
        const n = tunReadBatch(cb);
        let w = 0;
        for (let i = 0; i < n; i++) {
          const at = SLOTS + i * STRIDE;
          const len = dv.getUint32(1024 + 4 * i, true);
          if (u8[at] >> 4 !== 4 || u8[at + 9] !== 1 || u8[at + 20] !== 8) continue; // IPv4 ICMP echo request only
          // turn the request into a reply in place: swap addresses, type 0, fix checksums
          const src = u8.slice(at + 12, at + 16);
          u8.copyWithin(at + 12, at + 16, at + 20);
          u8.set(src, at + 16);
          dv.setUint16(at + 10, 0);
          dv.setUint16(at + 10, csum(u8, at, at + 20));
          u8[at + 20] = 0;
          dv.setUint16(at + 22, 0);
          dv.setUint16(at + 22, csum(u8, at + 20, at + len));
          // compact replies to the front so one write batch sends them
          if (w !== i) {
            u8.copyWithin(SLOTS + w * STRIDE, at, at + len);
          }
          dv.setUint32(1024 + 4 * w, len, true);
          w++;
        }
        if (w > 0) {
          cb.setup({ fd: tun.fd, count: w, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
          expect(tunWriteBatch(cb)).toBe(w);
          replied += w;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      if (!done) ping.kill();
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/4 packets transmitted, 4 received/);
    expect(replied).toBe(4);
  });

  it("opens several queues of a multi-queue device", () => {
    const q1 = keep(tunOpen("ttmq0", { multiQueue: true }));
    const q2 = keep(tunOpenQueue("ttmq0"));
    const q3 = keep(tunOpenQueue("ttmq0"));
    expect(new Set([q1.fd, q2.fd, q3.fd]).size).toBe(3);
    expect(q2.name).toBe("ttmq0");
    // a single-queue open of the same device is refused, with a hint
    expect(() => tunOpen("ttmq0")).toThrow(expect.objectContaining({ name: "SysError", op: "tun open" }));
  });

  it("spreads flows over the queues of a multi-queue device", () => {
    const q = [keep(tunOpen("ttmq1", { multiQueue: true })), keep(tunOpenQueue("ttmq1"))];
    addrAdd("ttmq1", "100.64.11.1/24");
    linkSetUp("ttmq1", true);
    const cb = new BatchControl(memory, 0);
    for (const x of q) readV4(cb, x.fd, 1000, 50);
    // 32 flows (source ports), 2 datagrams each
    for (let f = 0; f < 32; f++) {
      const s = udpOpen({ address: "100.64.11.1" });
      for (let i = 0; i < 2; i++) {
        dv.setUint32(1024 + 4 * i, 64, true);
        encodeAddr(u8, 4096 + 24 * i, "100.64.11.2:9999");
      }
      cb.setup({ fd: s.fd, count: 2, buffer: SLOTS, stride: STRIDE, lengths: 1024, addrs: 4096 });
      expect(udpSendBatch(cb)).toBe(2);
      closeFd(s.fd);
    }
    const per = q.map((x) => readV4(cb, x.fd, 64, 300).pkts.length);
    console.log(`multi-queue TUN: ${per.join(" + ")} packets per queue`);
    expect(per[0] + per[1]).toBe(64);
    expect(per[0]).toBeGreaterThan(0);
    expect(per[1]).toBeGreaterThan(0);
  });

  it("reads a UDP_SEGMENT train as one large packet behind a vnet header (offload)", () => {
    const tun = keep(tunOpen("ttvnet0", { vnetHdr: true, offload: true }));
    expect(tun.offload & TUN_F_CSUM).toBe(TUN_F_CSUM);
    addrAdd("ttvnet0", "100.64.9.1/24");
    linkSetUp("ttvnet0", true);
    const s = keep(udpOpen({ address: "100.64.9.1", gso: true }));
    const cb = new BatchControl(memory, 0);
    // 10 segments of 1000 bytes, coalesced into one GSO send
    for (let i = 0; i < 10; i++) {
      dv.setUint32(1024 + 4 * i, 1000, true);
      encodeAddr(u8, 4096 + 24 * i, "100.64.9.2:9999");
    }
    cb.setup({ fd: s.fd, count: 10, buffer: SLOTS, stride: STRIDE, lengths: 1024, addrs: 4096, flags: 1 });
    expect(udpSendBatch(cb)).toBe(10);
    const big = 262144;
    const lens: number[] = [];
    const gsoTypes: number[] = [];
    const deadline = Date.now() + 2000;
    while (lens.reduce((a, b) => a + b, 0) < 10 * 1000 && Date.now() < deadline) {
      cb.setup({ fd: tun.fd, count: 4, buffer: big, stride: 65536, lengths: 1024 });
      const n = tunReadBatch(cb);
      for (let i = 0; i < n; i++) {
        const at = big + i * 65536;
        if (u8[at + VNET_HDR_LEN] >> 4 !== 4) continue;
        lens.push(dv.getUint32(1024 + 4 * i, true) - VNET_HDR_LEN - 28);
        gsoTypes.push(u8[at + VNET_GSO_TYPE]);
        if (u8[at + VNET_GSO_TYPE] === VNET_GSO_UDP_L4) expect(dv.getUint16(at + VNET_GSO_SIZE, true)).toBe(1000);
      }
    }
    expect(lens.reduce((a, b) => a + b, 0)).toBe(10_000);
    if (tun.offload & TUN_F_USO4) {
      expect(lens).toEqual([10_000]); // one read of the whole train
      expect(gsoTypes).toEqual([VNET_GSO_UDP_L4]);
    }
  });

  it("with TUN_VNET, cuts an offloaded UDP train into plain IP packets with correct lengths and checksums", () => {
    const tun = keep(tunOpen("ttseg0", { vnetHdr: true, offload: true }));
    addrAdd("ttseg0", "100.64.13.1/24");
    linkSetUp("ttseg0", true);
    const s = keep(udpOpen({ address: "100.64.13.1", gso: true }));
    const cb = new BatchControl(memory, 0);
    for (let i = 0; i < 10; i++) {
      u8.fill(i, SLOTS + i * STRIDE, SLOTS + i * STRIDE + 1000);
      dv.setUint32(1024 + 4 * i, 1000, true);
      encodeAddr(u8, 4096 + 24 * i, "100.64.13.2:9999");
    }
    cb.setup({ fd: s.fd, count: 10, buffer: SLOTS, stride: STRIDE, lengths: 1024, addrs: 4096, flags: 1 });
    expect(udpSendBatch(cb)).toBe(10);
    const out = 262144;
    const pkts: Uint8Array[] = [];
    const deadline = Date.now() + 2000;
    while (pkts.length < 10 && Date.now() < deadline) {
      cb.setup({ fd: tun.fd, count: 64, buffer: out, stride: 2048, lengths: 1024, flags: TUN_VNET });
      const n = tunReadBatch(cb);
      for (let i = 0; i < n; i++) {
        const p = u8.slice(out + i * 2048, out + i * 2048 + dv.getUint32(1024 + 4 * i, true));
        if (p[0] >> 4 === 4 && p[9] === 17) pkts.push(p); // IPv4 UDP: ours, not router solicitations
      }
    }
    const sum = (b: Uint8Array, s = 0) => {
      for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
      if (b.length & 1) s += b[b.length - 1] << 8;
      while (s >> 16) s = (s & 0xffff) + (s >> 16);
      return s;
    };
    expect(pkts.map((p) => p.length)).toEqual(Array(10).fill(1028));
    pkts.forEach((p, i) => {
      const view = new DataView(p.buffer);
      expect(view.getUint16(2)).toBe(1028); // IPv4 total length
      expect(view.getUint16(24)).toBe(1008); // UDP length
      expect(sum(p.subarray(0, 20))).toBe(0xffff); // IPv4 header checksum verifies
      const pseudo = new Uint8Array([...p.subarray(12, 20), 0, 17, 1008 >> 8, 1008 & 255]);
      expect(sum(p.subarray(20), sum(pseudo))).toBe(0xffff); // UDP checksum verifies
      expect(p.subarray(28).every((b) => b === i)).toBe(true); // segment i carries payload i, in order
    });
  });

  it("falls back to one datagram per packet when the kernel refuses a coalesced send", () => {
    // segments of 1000 B + 28 B of headers do not fit a 1020-byte MTU: UDP_SEGMENT is
    // refused (EINVAL), the shim sends the 5 packets one by one, and the kernel fragments
    // each into 2 IPv4 fragments that the TUN sees
    const tun = keep(tunOpen("ttfb0"));
    addrAdd("ttfb0", "100.64.10.1/24");
    linkSetMtu("ttfb0", 1020);
    linkSetUp("ttfb0", true);
    const cb = new BatchControl(memory, 0);
    readV4(cb, tun.fd, 1000, 100);
    const s = keep(udpOpen({ address: "100.64.10.1", gso: true }));
    for (let i = 0; i < 5; i++) {
      dv.setUint32(1024 + 4 * i, 1000, true);
      encodeAddr(u8, 4096 + 24 * i, "100.64.10.2:9999");
    }
    cb.setup({ fd: s.fd, count: 5, buffer: SLOTS, stride: STRIDE, lengths: 1024, addrs: 4096, flags: SEND_COALESCE });
    expect(udpSendBatch(cb)).toBe(5);
    expect([22, 90]).toContain(cb.errno); // why it fell back: EINVAL or EMSGSIZE
    expect(readV4(cb, tun.fd, 10).pkts.length).toBe(10);
  });

  it("says that root or CAP_NET_ADMIN is needed when TUN open is not permitted (EPERM or EACCES)", () => {
    // as nobody, without capabilities, inside the test namespace (nothing gets created).
    // Which errno comes depends on /dev/net/tun's mode: 0666 lets the open through and
    // TUNSETIFF refuses (EPERM); 0600 refuses the open itself (EACCES). Same cause, same hint.
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `import(${JSON.stringify(dist)}).then((s) => { try { s.tunOpen("ttperm0"); console.log("opened"); } catch (e) { console.log(JSON.stringify({ name: e.name, errno: e.errno, op: e.op, message: e.message })); } })`;
    // (the plain library, even under test:sanitize: setpriv and ip are not ASan-clean)
    const { LD_PRELOAD: _p, TALTUN_IO_SHIM_LIB: _l, ...env } = process.env;
    const out = execFileSync("ip", ["netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", process.execPath, "-e", script], { encoding: "utf8", timeout: 20_000, env });
    const got = JSON.parse(out) as { name: string; errno: string; op: string; message: string };
    expect(["EPERM", "EACCES"]).toContain(got.errno);
    const why = got.errno === "EPERM" ? "operation not permitted" : "permission denied";
    expect(got).toEqual({
      name: "SysError",
      errno: got.errno,
      op: "tun open",
      message: `tun open: ${got.errno} (${why}): ttperm0; creating a TUN device needs root or CAP_NET_ADMIN`,
    });
  });

  it("returns 0 on an empty queue and errors for bad fds and options", () => {
    const tun = keep(tunOpen("ttbad0"));
    const cb = new BatchControl(memory, 0).setup({ fd: tun.fd, count: 64, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    expect(tunReadBatch(cb)).toBe(0);
    cb.setup({ fd: 100000, count: 1, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    expect(tunReadBatch(cb)).toBe(-9);
    expect(() => tunOpen("ttbad1", { offload: true })).toThrow(/offload needs vnetHdr/);
    expect(() => tunOpen("bad/name")).toThrow(/invalid interface name/);
    // a write of a non-IP packet: the kernel refuses it, the batch says so
    dv.setUint32(1024, 20, true);
    u8.fill(0, SLOTS, SLOTS + 20);
    cb.setup({ fd: tun.fd, count: 1, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    const r = tunWriteBatch(cb);
    console.log(`tun write of a 20-byte zero packet returned ${r}, errno ${cb.errno}`);
    expect(r).toBe(-22);
    expect(cb.errno).toBe(22);
    cb.setup({ fd: tun.fd, count: 65, buffer: SLOTS, stride: STRIDE, lengths: 1024 });
    expect(() => tunWriteBatch(cb)).toThrow(/MAX_BATCH/);
  });
});
