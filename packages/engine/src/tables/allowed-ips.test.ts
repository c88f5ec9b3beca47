import { describe, expect, it } from "vitest";
import { AllowedIps, lookupAddress } from "./allowed-ips.js";
import { formatEndpoint, parseEndpoint } from "./endpoint.js";
import { formatIp, parseIp, parseIpNet } from "../protocol/address.js";

let seed = 12345;
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return Math.floor((seed / 2 ** 32) * n);
};

function randomBytes(len: number, pool: Uint8Array[]): Uint8Array {
  // Half the time start from an existing prefix so that nested prefixes are common.
  const b = pool.length && rnd(2) ? pool[rnd(pool.length)].slice() : new Uint8Array(len);
  for (let i = rnd(len); i < len; i++) b[i] = rnd(256);
  return b;
}

/** The slow obvious implementation: scan every prefix, keep the longest that matches. */
function slowLookup(prefixes: { bytes: Uint8Array; cidr: number; peer: number }[], a: Uint8Array): number {
  let best = -1;
  let bestCidr = -1;
  for (const p of prefixes) {
    if (p.bytes.length !== a.length || p.cidr <= bestCidr) continue;
    let ok = true;
    for (let i = 0; ok && i * 8 < p.cidr; i++) {
      const keep = Math.min(8, p.cidr - 8 * i);
      ok = ((p.bytes[i] ^ a[i]) & ((0xff00 >> keep) & 0xff)) === 0;
    }
    if (ok) [best, bestCidr] = [p.peer, p.cidr];
  }
  return best;
}

describe("allowed IPs", () => {
  it("parses and formats addresses", () => {
    expect(formatIp(parseIp("fd00::1"))).toBe("fd00::1");
    expect(formatIp(parseIp("::ffff:1.2.3.4"))).toBe("::ffff:102:304");
    expect(parseIpNet("10.1.2.3/8", "mask")).toMatchObject({ bytes: Uint8Array.of(10, 0, 0, 0), prefix: 8 });
    expect(() => parseIpNet("10.0.0.0/33", "mask")).toThrow(/prefix length/);
    expect(() => parseIp("1.2.3")).toThrow(/not an IP/);
  });

  it("endpoint records are io-shim address records (family, port, address; little-endian)", () => {
    const e = parseEndpoint("198.18.0.1:51820");
    expect(Array.from(e.subarray(0, 8))).toEqual([2, 0, 0x6c, 0xca, 198, 18, 0, 1]);
    expect(formatEndpoint(e)).toBe("198.18.0.1:51820");
    expect(formatEndpoint(parseEndpoint("[fd00::1]:443"))).toBe("[fd00::1]:443");
    expect(() => parseEndpoint("198.18.0.1")).toThrow(/host:port/);
  });

  for (const len of [4, 16] as const) {
    it(`matches a slow implementation on 100k random IPv${len === 4 ? 4 : 6} lookups`, () => {
      const table = new AllowedIps();
      const prefixes: { bytes: Uint8Array; cidr: number; peer: number }[] = [];
      const pool: Uint8Array[] = [];
      for (let i = 0; i < 400; i++) {
        const bytes = randomBytes(len, pool);
        pool.push(bytes);
        const net = parseIpNet(`${formatIp(bytes)}/${rnd(len * 8 + 1)}`, "mask");
        const p = { bytes: net.bytes, cidr: net.prefix };
        const peer = rnd(50);
        const existing = prefixes.find((q) => q.cidr === p.cidr && Buffer.compare(q.bytes, p.bytes) === 0);
        if (existing) existing.peer = peer;
        else prefixes.push({ ...p, peer });
        table.insert(`${formatIp(p.bytes)}/${p.cidr}`, peer);
      }
      let mismatches = 0;
      for (let i = 0; i < 100_000; i++) {
        const a = randomBytes(len, pool);
        if (lookupAddress(table.snapshot, a, 0, len) !== slowLookup(prefixes, a)) mismatches++;
      }
      expect(mismatches).toBe(0);
    }, 60_000);
  }

  it("checks the inner source and picks by destination of real headers", () => {
    const t = new AllowedIps();
    t.insert("100.64.0.2/32", 1);
    t.insert("192.168.50.0/24", 1);
    t.insert("0.0.0.0/0", 2);
    t.insert("fd00::/64", 3);
    const v4 = new Uint8Array(20);
    v4[0] = 0x45;
    v4.set([100, 64, 0, 2], 12);
    v4.set([192, 168, 50, 9], 16);
    expect(t.lookup(v4, 0, 20, "source")).toBe(1);
    expect(t.lookup(v4, 0, 20, "destination")).toBe(1);
    v4.set([100, 64, 0, 3], 12);
    expect(t.lookup(v4, 0, 20, "source")).toBe(2);
    const v6 = new Uint8Array(48);
    v6[8] = 0x60;
    v6.set(parseIp("fd00::5"), 8 + 8);
    expect(t.lookup(v6, 8, 40, "source")).toBe(3);
    expect(t.lookup(v6, 8, 40, "destination")).toBe(-1);
    expect(t.lookup(v6, 8, 10, "source")).toBe(-1);
    t.removePeer(1);
    expect(t.prefixesOf(1)).toEqual([]);
    expect(t.lookup(v4, 0, 20, "destination")).toBe(2);
  });

  it("updates publish a new snapshot and never disturb a reader of the old one", () => {
    const t = new AllowedIps(true);
    t.insert("10.0.0.0/8", 1);
    const a = parseIp("10.1.2.3");
    const before = t.snapshot;
    const version = t.version;
    expect(before.buffer).toBeInstanceOf(SharedArrayBuffer);
    for (let i = 0; i < 200; i++) {
      const reader = t.snapshot;
      t.insert(`10.1.${i}.0/24`, 100 + i);
      // The reader's snapshot still answers as before the update; the new one sees it.
      expect(lookupAddress(reader, a, 0, 4)).toBe(i <= 2 ? 1 : 102);
      expect(lookupAddress(t.snapshot, parseIp(`10.1.${i}.7`), 0, 4)).toBe(100 + i);
    }
    expect(lookupAddress(before, parseIp("10.1.7.7"), 0, 4)).toBe(1);
    expect(t.version).toBe(version + 200);
    t.remove("10.1.2.0/24");
    expect(lookupAddress(t.snapshot, a, 0, 4)).toBe(1);
  });
});
