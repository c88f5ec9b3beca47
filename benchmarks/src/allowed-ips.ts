// Allowed-IPs lookups per second: @taltun/engine's AllowedIps (a path-compressed binary trie
// in an Int32Array) as the data plane uses it, lookupPacket() on the destination of IPv4 and
// IPv6 headers, against tables of a few sizes. Each peer owns its tunnel address (/32 or
// /128) and a subnet behind it (/24 or /64); the looked-up addresses are random hosts of
// random peers' prefixes, plus one in eight that matches nothing. Also: the JS heap across a
// million lookups (the data plane must allocate nothing per packet).
import { AllowedIps, lookupPacket } from "@taltun/engine";

const ADDRS = 4096; // distinct packets cycled through

interface Table {
  peers: number;
  allowed: AllowedIps;
  v4: Uint8Array;
  v6: Uint8Array;
  buildMs: number;
}

/** Deterministic pseudo-random numbers (xorshift32), so every run looks up the same addresses. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const hex = (n: number): string => (n & 0xffff).toString(16);

function table(peers: number): Table {
  const t0 = performance.now();
  const allowed = new AllowedIps(true);
  // Peer p: 100.64.0.0/10 host p+1 as /32, 10.(p>>8).(p&255).0/24; fd00::p+1/128, fd01:0:0:p::/64.
  for (let p = 0; p < peers; p++) {
    const h = p + 1;
    allowed.insert(`100.${64 + (h >> 16)}.${(h >> 8) & 255}.${h & 255}/32`, p);
    allowed.insert(`10.${p >> 8}.${p & 255}.0/24`, p);
    allowed.insert(`fd00::${hex(h >> 16)}:${hex(h)}/128`, p);
    allowed.insert(`fd01:0:${hex(p >> 16)}:${hex(p)}::/64`, p);
  }
  const buildMs = performance.now() - t0;
  const r = rng(0x5eed + peers);
  const v4 = new Uint8Array(ADDRS * 20);
  const v6 = new Uint8Array(ADDRS * 40);
  for (let i = 0; i < ADDRS; i++) {
    const p = r() % peers;
    const miss = r() % 8 === 0;
    const kind = r() & 1;
    const h4 = v4.subarray(i * 20, i * 20 + 20);
    h4[0] = 0x45;
    if (miss) h4.set([192, 0, 2, r() & 255], 16);
    else if (kind === 0) h4.set([100, 64 + ((p + 1) >> 16), ((p + 1) >> 8) & 255, (p + 1) & 255], 16);
    else h4.set([10, p >> 8, p & 255, r() & 255], 16);
    const h6 = v6.subarray(i * 40, i * 40 + 40);
    h6[0] = 0x60;
    const d = new DataView(h6.buffer, h6.byteOffset + 24, 16);
    if (miss) {
      d.setUint32(0, 0x20010db8);
      d.setUint32(12, r());
    } else if (kind === 0) {
      d.setUint16(0, 0xfd00);
      d.setUint32(12, p + 1);
    } else {
      d.setUint16(0, 0xfd01);
      d.setUint16(4, p >> 16);
      d.setUint16(6, p & 0xffff);
      d.setUint32(8, r());
      d.setUint32(12, r());
    }
  }
  return { peers, allowed, v4, v6, buildMs };
}

/** Lookups per second over `ms` of a tight loop (after a warm-up), and a sanity count of hits. */
function rate(snapshot: Int32Array, headers: Uint8Array, size: number, ms: number): { perSecond: number; hitShare: number } {
  const n = headers.length / size;
  let hits = 0;
  const loop = (count: number): void => {
    for (let i = 0; i < count; i++) if (lookupPacket(snapshot, headers, (i % n) * size, size, "destination") >= 0) hits++;
  };
  loop(50_000); // warm-up: let V8 optimize the lookup
  hits = 0;
  let done = 0;
  const t0 = performance.now();
  let elapsed: number;
  do {
    loop(n);
    done += n;
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return { perSecond: (done / elapsed) * 1000, hitShare: hits / done };
}

function heapPerLookup(t: Table, lookups: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  const snap = t.allowed.snapshot;
  let sink = 0;
  for (let i = 0; i < 50_000; i++) sink += lookupPacket(snap, t.v4, (i % ADDRS) * 20, 20, "destination");
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < lookups; i++) sink += lookupPacket(snap, t.v4, (i % ADDRS) * 20, 20, "destination");
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (sink === 0.5) console.log(sink); // keeps the loop's result alive
  return (after - before) / lookups;
}

/** Runs the allowed-IPs suite, prints its table and returns its headline figures. */
export async function runAllowedIpsBench(o: { smoke?: boolean } = {}): Promise<Record<string, number>> {
  // Not larger: every insert recompiles the whole trie, so building n prefixes costs O(n^2)
  // (8192 prefixes took ~65 s here); 512 peers = 2048 prefixes take a few seconds.
  const sizes = o.smoke ? [16, 256] : [16, 256, 512];
  const ms = o.smoke ? 100 : 500;
  console.log(`\n## Allowed IPs: longest-prefix match per packet (lookupPacket, destination; node ${process.version}, ${ms} ms per figure, ${new Date().toISOString()})\n`);
  console.log(`${"peers".padStart(6)} ${"prefixes".padStart(9)} ${"build ms".padStart(9)} ${"IPv4 lookups/s".padStart(15)} ${"IPv6 lookups/s".padStart(15)} ${"hits".padStart(6)}`);
  const figures: Record<string, number> = {};
  let largest: Table | undefined;
  for (const peers of sizes) {
    const t = table(peers);
    largest = t;
    const v4 = rate(t.allowed.snapshot, t.v4, 20, ms);
    const v6 = rate(t.allowed.snapshot, t.v6, 40, ms);
    console.log(
      `${String(peers).padStart(6)} ${String(peers * 4).padStart(9)} ${t.buildMs.toFixed(0).padStart(9)} ${(v4.perSecond / 1e6).toFixed(2).padStart(13)} M ${(v6.perSecond / 1e6).toFixed(2).padStart(13)} M ${`${(v4.hitShare * 100).toFixed(0)}%`.padStart(6)}`,
    );
    figures[`IPv4 lookups/s, ${peers} peers`] = v4.perSecond;
    figures[`IPv6 lookups/s, ${peers} peers`] = v6.perSecond;
  }
  const lookups = o.smoke ? 200_000 : 1_000_000;
  const perLookup = heapPerLookup(largest!, lookups);
  const gcNote = (globalThis as { gc?: unknown }).gc ? "after global.gc()" : "WITHOUT --expose-gc: includes garbage";
  console.log(`(build: every insert publishes a new snapshot, as a configuration change does; hits: share of addresses with a peer, ~7/8 by design)`);
  console.log(`heap: ${lookups.toLocaleString("en")} IPv4 lookups, ${perLookup.toFixed(4)} bytes per lookup, ${gcNote}`);
  figures["heap bytes per lookup"] = perLookup;
  return figures;
}
