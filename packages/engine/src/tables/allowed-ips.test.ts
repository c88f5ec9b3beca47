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

/** The tries of a snapshot, depth first, whatever places their nodes have: [value, cidr, key, child 0, child 1]. */
function trieOf(t: Int32Array): unknown[] {
  const walk = (at: number): unknown => (at < 0 ? null : [t[at + 2], t[at + 3], Array.from(t.subarray(at + 4, at + 8)), walk(t[at]), walk(t[at + 1])]);
  return [walk(t[0]), walk(t[1])];
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

  it("stays equal to a model through interleaved inserts, removals and replacements, and compiles the trie a fresh build would", () => {
    type Entry = { bytes: Uint8Array; cidr: number; peer: number };
    const table = new AllowedIps(true);
    const model = new Map<string, Entry>();
    const pool: Uint8Array[] = [];
    const randomPrefix = () => {
      const len = rnd(4) === 0 ? 16 : 4;
      const bytes = randomBytes(len, pool.filter((b) => b.length === len));
      pool.push(bytes);
      const net = parseIpNet(`${formatIp(bytes)}/${rnd(len * 8 + 1)}`, "mask");
      return { text: `${net.address}/${net.prefix}`, bytes: net.bytes, cidr: net.prefix };
    };
    const check = (frozen: Int32Array, frozenModel: Entry[]) => {
      const now = [...model.values()];
      for (let i = 0; i < 300; i++) {
        const a = randomBytes(rnd(2) ? 4 : 16, pool);
        const got = lookupAddress(table.snapshot, a, 0, a.length as 4 | 16);
        if (got !== slowLookup(now, a)) throw new Error(`lookup of ${formatIp(a)}: ${got}, the model says ${slowLookup(now, a)}`);
        // A snapshot taken before the changes still answers as the table did then.
        expect(lookupAddress(frozen, a, 0, a.length as 4 | 16)).toBe(slowLookup(frozenModel, a));
      }
    };
    let compiles = 0;
    for (let round = 0; round < 150; round++) {
      const frozen = table.snapshot;
      const frozenModel = [...model.values()].map((e) => ({ ...e }));
      const version = table.version;
      const ops = 1 + rnd(40);
      for (let k = 0; k < ops; k++) {
        const op = rnd(10);
        if (op < 5) {
          const p = randomPrefix();
          const peer = rnd(20);
          table.insert(p.text, peer);
          model.set(p.text, { bytes: p.bytes, cidr: p.cidr, peer });
        } else if (op < 7 && model.size > 0) {
          const keys = [...model.keys()];
          const key = keys[rnd(keys.length)];
          table.remove(key);
          model.delete(key);
        } else if (op < 8) {
          const p = randomPrefix(); // mostly absent: changes nothing
          table.remove(p.text);
          model.delete(p.text);
        } else if (op < 9) {
          const peer = rnd(20);
          table.removePeer(peer);
          for (const [key, e] of model) if (e.peer === peer) model.delete(key);
        } else {
          // What Device.addPeer does with a new list: drop the peer's prefixes, add the new ones.
          const peer = rnd(20);
          table.removePeer(peer);
          for (const [key, e] of model) if (e.peer === peer) model.delete(key);
          for (let j = rnd(30); j > 0; j--) {
            const p = randomPrefix();
            table.insert(p.text, peer);
            model.set(p.text, { bytes: p.bytes, cidr: p.cidr, peer });
          }
        }
      }
      // However many changes, one compile when the snapshot is next read.
      const snap = table.snapshot;
      expect(table.snapshot).toBe(snap);
      if (snap !== frozen) compiles++;
      expect(table.version - version).toBe(snap === frozen ? 0 : 1);
      check(frozen, frozenModel);
      expect(table.size).toBe(model.size);
      for (let peer = 0; peer < 20; peer++) {
        const mine = [...model].filter(([, e]) => e.peer === peer).map(([k]) => k);
        expect(table.prefixesOf(peer).sort()).toEqual(mine.sort());
        expect(table.countOf(peer)).toBe(mine.length);
      }
      // The trie edited in place is the one built from scratch from the same prefixes, and
      // its snapshot at most twice the size (places of removed nodes are reused or compacted).
      const fresh = new AllowedIps();
      for (const [key, e] of model) fresh.insert(key, e.peer);
      expect(trieOf(snap)).toEqual(trieOf(fresh.snapshot));
      expect(snap.length).toBeLessThanOrEqual(2 * fresh.snapshot.length);
    }
    expect(compiles).toBeGreaterThan(100);
    for (const key of [...model.keys()]) table.remove(key);
    expect(Array.from(table.snapshot)).toEqual([-1, -1]);
  }, 60_000);

  it("takes 130,000 prefixes on one peer in well under the time wg setconf allows", () => {
    const t = new AllowedIps(true);
    const started = performance.now();
    for (let i = 0; i < 130_000; i++) t.insert(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`, 1);
    t.insert("0.0.0.0/0", 2);
    const snap = t.snapshot;
    const took = performance.now() - started;
    expect(t.countOf(1)).toBe(130_000);
    expect(lookupAddress(snap, parseIp("11.2.3.4"), 0, 4)).toBe(1);
    expect(lookupAddress(snap, parseIp("200.2.3.4"), 0, 4)).toBe(2);
    expect(took).toBeLessThan(10_000); // about half a second here; it took hours when every insert compiled
    const removal = performance.now();
    t.removePeer(1);
    expect(Array.from(t.snapshot).length).toBe(2 + 8);
    expect(performance.now() - removal).toBeLessThan(10_000);
  }, 60_000);

  it("reads prefixes in any form to the same entry: canonical text, host bits, no length, parsed", () => {
    const t = new AllowedIps();
    t.insert("10.1.2.3/8", 1);
    t.insert(parseIpNet("10.0.0.0/8", "reject"), 2);
    t.insert("10.0.0.0/8", 3);
    t.insert("192.168.1.1", 4);
    t.insert("fd00:0::1:2/64", 5);
    expect(t.size).toBe(3);
    expect(t.prefixesOf(3)).toEqual(["10.0.0.0/8"]);
    expect(t.prefixesOf(4)).toEqual(["192.168.1.1/32"]);
    expect(t.prefixesOf(5)).toEqual(["fd00::/64"]);
    expect(t.prefixesOf(1)).toEqual([]);
    for (const bad of ["010.0.0.0/8", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/8x", "256.0.0.0/8"]) expect(() => t.insert(bad, 1)).toThrow();
    t.remove("10.9.9.9/8");
    t.remove(parseIpNet("fd00::/64", "reject"));
    expect(t.size).toBe(1);
    expect(lookupAddress(t.snapshot, parseIp("192.168.1.1"), 0, 4)).toBe(4);
  });

  it("while held, keeps the last snapshot whatever changes; released, makes one with all of them", () => {
    const t = new AllowedIps(true);
    t.insert("10.0.0.0/8", 1);
    const before = t.snapshot;
    const version = t.version;
    t.hold(true);
    t.insert("10.1.0.0/16", 2);
    t.removePeer(1);
    expect(t.snapshot).toBe(before);
    expect(t.version).toBe(version);
    expect(t.prefixesOf(2)).toEqual(["10.1.0.0/16"]); // the table itself has changed
    t.hold(false);
    expect(t.version).toBe(version + 1);
    expect(lookupAddress(t.snapshot, parseIp("10.1.2.3"), 0, 4)).toBe(2);
    expect(lookupAddress(t.snapshot, parseIp("10.2.2.3"), 0, 4)).toBe(-1);
  });

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
