// AEAD micro-benchmark (RFC 8439 ChaCha20-Poly1305): @taltun/wasm-crypto (batch of 64 in
// place, single calls at pointers, the convenience API) against node:crypto and
// @noble/ciphers per packet, OpenSSL's own figures from `openssl speed` (full, and
// restricted to 128-bit SIMD like WebAssembly's), and the JS heap before/after a million
// batch calls. Every task does 64 packets per iteration, so the columns compare like with like.
import { spawnSync } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { Bench } from "tinybench";
import * as wc from "@taltun/wasm-crypto";
import { type CoreWork, measureCores } from "./aead-cores.js";

const SIZES = [64, 512, 1420];
const N = 64; // packets per iteration (and per batch)
const SLOT = 2048;
const TIME_MS = 400;
/** `openssl speed` with AVX2 and AVX-512 masked off (OPENSSL_ia32cap, second word): the 128-bit SSSE3 code. */
export const OPENSSL_SIMD128 = ":~0x1d0030020";

// Memory layout of the benchmark: scratch, descriptors (seal, open), key, nonces, slots, pristine copies.
const SCRATCH = wc.HEAP_BASE;
const DESC_SEAL = SCRATCH + wc.SCRATCH_BYTES;
const DESC_OPEN = DESC_SEAL + N * wc.DESC_SIZE;
const KEY = DESC_OPEN + N * wc.DESC_SIZE;
const NONCES = KEY + 32;
const DATA = (NONCES + N * 16 + 63) & ~63;
const PRISTINE = DATA + N * SLOT;

const memory = wc.createSharedMemory(16 << 20);
const aead = wc.instantiateAead(memory, SCRATCH);
const u8 = new Uint8Array(memory.buffer);
const i32 = new Int32Array(memory.buffer);

interface Row { op: string; size: number; impl: string; mbps: number; usPerPacket: number }

const nonceOf = (i: number): Uint8Array => {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(4, i, true); // WireGuard nonce: 4 zero bytes, counter LE
  return n;
};

function writeDesc(at: number, i: number, len: number): void {
  wc.writeDescriptor(i32, at, i, KEY, i, 0, DATA + i * SLOT, len);
}

// Runs `fn` until V8 has optimized it (DESIGN §5: ~10^4 calls), bounded in time.
function warm(fn: () => void, before?: () => void, ms = 300): void {
  const end = performance.now() + ms;
  for (let i = 0; i < 10_000 && performance.now() < end; i++) {
    before?.();
    fn();
  }
}

function tasksFor(size: number, key: Uint8Array): { name: string; op: string; fn: () => void; before?: () => void }[] {
  const nonces = Array.from({ length: N }, (_, i) => nonceOf(i));
  const plains = Array.from({ length: N }, () => new Uint8Array(randomBytes(size)));
  const sealed = plains.map((p, i) => wc.seal(key, nonces[i], p));
  u8.set(key, KEY);
  for (let i = 0; i < N; i++) {
    u8.set(nonces[i], NONCES + i * 16);
    u8.set(sealed[i], PRISTINE + i * SLOT);
    writeDesc(DESC_SEAL, i, size);
    writeDesc(DESC_OPEN, i, size + 16);
  }
  const restore = (): void => void u8.copyWithin(DATA, PRISTINE, PRISTINE + N * SLOT);
  restore();
  if (aead.openBatch(DESC_OPEN, N) !== N) throw new Error("benchmark setup: batch open failed");
  const keyBuf = Buffer.from(key);
  const nonceBufs = nonces.map((n) => Buffer.from(n));
  return [
    { op: "seal", name: "wasm-crypto batch", fn: () => aead.sealBatch(DESC_SEAL, N) },
    { op: "seal", name: "wasm-crypto single", fn: () => { for (let i = 0; i < N; i++) aead.seal(KEY, NONCES + i * 16, DATA + i * SLOT, size); } },
    { op: "seal", name: "wasm-crypto seal()", fn: () => { for (let i = 0; i < N; i++) wc.seal(key, nonces[i], plains[i]); } },
    {
      op: "seal", name: "node:crypto", fn: () => {
        for (let i = 0; i < N; i++) {
          const c = createCipheriv("chacha20-poly1305", keyBuf, nonceBufs[i], { authTagLength: 16 });
          c.update(plains[i]); c.final(); c.getAuthTag();
        }
      },
    },
    { op: "seal", name: "@noble/ciphers", fn: () => { for (let i = 0; i < N; i++) chacha20poly1305(key, nonces[i]).encrypt(plains[i]); } },
    { op: "open", name: "wasm-crypto batch", before: restore, fn: () => void aead.openBatch(DESC_OPEN, N) },
    { op: "open", name: "wasm-crypto single", before: restore, fn: () => { for (let i = 0; i < N; i++) aead.open(KEY, NONCES + i * 16, DATA + i * SLOT, size + 16); } },
    { op: "open", name: "wasm-crypto open()", fn: () => { for (let i = 0; i < N; i++) wc.open(key, nonces[i], sealed[i]); } },
    {
      op: "open", name: "node:crypto", fn: () => {
        for (let i = 0; i < N; i++) {
          const d = createDecipheriv("chacha20-poly1305", keyBuf, nonceBufs[i], { authTagLength: 16 });
          d.setAuthTag(sealed[i].subarray(size)); d.update(sealed[i].subarray(0, size)); d.final();
        }
      },
    },
    { op: "open", name: "@noble/ciphers", fn: () => { for (let i = 0; i < N; i++) chacha20poly1305(key, nonces[i]).decrypt(sealed[i]); } },
  ];
}

// wasm-crypto's 1420-byte batch seal and open, timed on whatever core runs this thread. Open
// times each call alone: the copy that brings the sealed packets back stays outside.
function coreWork(key: Uint8Array): CoreWork {
  const size = 1420;
  const tasks = tasksFor(size, key);
  const seal = tasks.find((t) => t.op === "seal" && t.name === "wasm-crypto batch")!;
  const open = tasks.find((t) => t.op === "open" && t.name === "wasm-crypto batch")!;
  const rate = (bytes: number, ns: number): number => (bytes * 1000) / ns;
  return {
    seal(ms) {
      warm(seal.fn, undefined, 50);
      let calls = 0;
      const t0 = process.hrtime.bigint(), end = performance.now() + ms;
      while (performance.now() < end) { seal.fn(); calls++; }
      return rate(calls * N * size, Number(process.hrtime.bigint() - t0));
    },
    open(ms) {
      warm(open.fn, open.before, 50);
      let calls = 0, ns = 0n;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        open.before!();
        const t0 = process.hrtime.bigint();
        open.fn();
        ns += process.hrtime.bigint() - t0;
        calls++;
      }
      return rate(calls * N * size, Number(ns));
    },
  };
}

async function measure(timeMs: number): Promise<Row[]> {
  const rows: Row[] = [];
  const key = new Uint8Array(randomBytes(32));
  for (const size of SIZES) {
    const tasks = tasksFor(size, key);
    const bench = new Bench({ time: timeMs, warmupTime: Math.min(100, timeMs) });
    for (const t of tasks) {
      warm(t.fn, t.before, Math.min(300, timeMs));
      bench.add(`${t.op} ${t.name}`, t.fn, t.before ? { beforeEach: t.before } : {});
    }
    await bench.run();
    bench.tasks.forEach((task, i) => {
      const r = task.result;
      if (r.state !== "completed") throw new Error(`${task.name}: ${r.state}`);
      // The median sample, not the mean: the machine is shared, and the median shrugs off the
      // moments another process takes the core.
      const usPerPacket = (r.latency.p50 * 1000) / N;
      rows.push({ op: tasks[i].op, size, impl: tasks[i].name, usPerPacket, mbps: size / usPerPacket });
    });
  }
  return rows;
}

/** OpenSSL's chacha20-poly1305 figures in MB/s by buffer size (bytes), as `openssl speed` prints them. */
export type OpensslSpeed = Record<number, number>;

/**
 * `openssl speed -evp chacha20-poly1305 -seconds 1` (with `-bytes` for one size only, and
 * `-elapsed` for wall-clock time), with OPENSSL_ia32cap set to `ia32cap` when given; throws
 * when openssl is missing or prints no row.
 */
export function opensslSpeed(ia32cap?: string, bytes?: number, elapsed = false): OpensslSpeed {
  const env = { ...process.env };
  delete env.OPENSSL_ia32cap;
  if (ia32cap) env.OPENSSL_ia32cap = ia32cap;
  // -elapsed: wall-clock time, as the wasm loops are timed (by default `speed` counts user CPU time).
  const args = ["speed", ...(elapsed ? ["-elapsed"] : []), "-evp", "chacha20-poly1305", "-seconds", "1", ...(bytes ? ["-bytes", String(bytes)] : [])];
  const r = spawnSync("openssl", args, { encoding: "utf8", env, timeout: 30_000 });
  if (r.error) throw new Error(`openssl ${args.join(" ")}: ${r.error.message} (Debian package openssl; scripts/setup.sh installs it)`);
  // "type  16 bytes  64 bytes ...", then "ChaCha20-Poly1305  233798.96k ...", in 1000s of bytes per second.
  const lines = r.stdout.split("\n").map((l) => l.trim());
  const head = lines.find((l) => /^type\s/.test(l));
  const row = lines.find((l) => /^chacha20-poly1305\s/i.test(l));
  if (!head || !row) throw new Error(`openssl ${args.join(" ")}: no result row\n${r.stdout}${r.stderr}`);
  const sizes = [...head.matchAll(/(\d+) bytes/g)].map((m) => Number(m[1]));
  const values = row.split(/\s+/).slice(1).map((v) => Number.parseFloat(v) / 1000);
  if (sizes.length !== values.length || values.some((v) => !Number.isFinite(v))) throw new Error(`openssl speed: cannot read ${JSON.stringify(row)}`);
  return Object.fromEntries(sizes.map((n, i) => [n, values[i]]));
}

// JS heap after a million batch calls: the data-plane path must allocate nothing per call.
function heapCheck(calls: number, batch: number, size: number): { before: number; after: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < batch; i++) writeDesc(DESC_SEAL, i, size);
  warm(() => aead.sealBatch(DESC_SEAL, batch));
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) aead.sealBatch(DESC_SEAL, batch);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  return { before, after };
}

const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

/** Runs the AEAD suite, prints its table and returns its headline figures. */
export async function runAeadBench(o: { smoke?: boolean } = {}): Promise<Record<string, number>> {
  const timeMs = o.smoke ? 50 : TIME_MS;
  console.log(
    `\n## AEAD: ChaCha20-Poly1305 (node ${process.version}, ${N} packets per iteration, median of ${timeMs} ms of samples, ${new Date().toISOString()})\n`,
  );
  const rows = await measure(timeMs);
  console.log(`${pad("op", 5)} ${lpad("bytes", 5)}  ${pad("implementation", 20)} ${lpad("MB/s", 8)} ${lpad("us/pkt", 8)} ${lpad("x node", 7)}`);
  for (const r of rows) {
    const node = rows.find((x) => x.op === r.op && x.size === r.size && x.impl === "node:crypto")!;
    console.log(
      `${pad(r.op, 5)} ${lpad(String(r.size), 5)}  ${pad(r.impl, 20)} ${lpad(r.mbps.toFixed(0), 8)} ${lpad(r.usPerPacket.toFixed(3), 8)} ${lpad((r.mbps / node.mbps).toFixed(2), 7)}`,
    );
  }
  // Smoke: the 1024-byte column only (1 s per run); otherwise every size (6 s per run).
  const full = opensslSpeed(undefined, o.smoke ? 1024 : undefined);
  const simd128 = opensslSpeed(OPENSSL_SIMD128, o.smoke ? 1024 : undefined);
  const batch = (op: string): number => rows.find((x) => x.op === op && x.size === 1420 && x.impl === "wasm-crypto batch")!.mbps;
  const node = (op: string): number => rows.find((x) => x.op === op && x.size === 1420 && x.impl === "node:crypto")!.mbps;
  const noble = (op: string): number => rows.find((x) => x.op === op && x.size === 1420 && x.impl === "@noble/ciphers")!.mbps;
  const cols = Object.keys(full).map(Number).filter((n) => n === 1024 || n === 16384);
  console.log(`\nopenssl speed -evp chacha20-poly1305 -seconds 1 (${execVersion()}), MB/s:`);
  console.log(`${"".padEnd(46)}${cols.map((n) => lpad(`${n} B`, 9)).join("")}`);
  console.log(`${pad("OpenSSL, full (AVX2/AVX-512 if any)", 46)}${cols.map((n) => lpad(full[n].toFixed(0), 9)).join("")}`);
  console.log(`${pad(`OpenSSL, 128-bit SIMD (ia32cap ${OPENSSL_SIMD128})`, 46)}${cols.map((n) => lpad(simd128[n].toFixed(0), 9)).join("")}`);
  console.log(`\n1420-byte packets, MB/s and share of OpenSSL's 1024-byte column (full / 128-bit):`);
  for (const op of ["seal", "open"]) {
    for (const [impl, v] of [["wasm-crypto batch", batch(op)], ["node:crypto", node(op)], ["@noble/ciphers", noble(op)]] as const) {
      console.log(`${pad(op, 5)} ${pad(impl, 20)} ${lpad(v.toFixed(0), 6)}   ${(v / full[1024]).toFixed(2)} / ${(v / simd128[1024]).toFixed(2)}`);
    }
  }
  const rounds = o.smoke ? 1 : 3;
  const cores = measureCores(coreWork(new Uint8Array(randomBytes(32))), {
    rounds, ms: o.smoke ? 100 : 1000, openssl: (bytes) => opensslSpeed(OPENSSL_SIMD128, bytes, true)[bytes],
  });
  const coreFigures: Record<string, number> = {};
  if (cores.length === 0) {
    console.log("\none core: taskset (util-linux) is missing, so the per-core comparison did not run");
  } else {
    console.log(`\none core at a time (taskset), ${rounds} alternated round(s) each, medians: 1420-byte packets, MB/s, wall-clock both`);
    console.log(`${pad("cpu", 4)} ${lpad("OpenSSL 128-bit", 16)} ${lpad("wasm seal", 10)} ${lpad("wasm open", 10)} ${lpad("seal x", 7)} ${lpad("open x", 7)}`);
    for (const c of cores) {
      console.log(
        `${pad(String(c.cpu), 4)} ${lpad(c.openssl128.toFixed(0), 16)} ${lpad(c.seal.toFixed(0), 10)} ${lpad(c.open.toFixed(0), 10)} ` +
          `${lpad((c.seal / c.openssl128).toFixed(2), 7)} ${lpad((c.open / c.openssl128).toFixed(2), 7)}`,
      );
      coreFigures[`cpu${c.cpu} wasm batch seal 1420 / openssl simd128 1420`] = c.seal / c.openssl128;
      coreFigures[`cpu${c.cpu} wasm batch open 1420 / openssl simd128 1420`] = c.open / c.openssl128;
    }
  }
  const calls = o.smoke ? 100_000 : 1_000_000, hb = 4, hs = 64;
  const { before, after } = heapCheck(calls, hb, hs);
  const gcNote = (globalThis as { gc?: unknown }).gc ? "after global.gc()" : "WITHOUT --expose-gc: figures include garbage";
  console.log(
    `\nheap: ${calls.toLocaleString("en")} sealBatch calls (${hb} x ${hs} B each), heapUsed ${before} -> ${after} bytes ` +
      `(${after - before >= 0 ? "+" : ""}${after - before}), ${gcNote}`,
  );
  return {
    "wasm batch seal 1420 MB/s": batch("seal"),
    "wasm batch open 1420 MB/s": batch("open"),
    "node:crypto seal 1420 MB/s": node("seal"),
    "node:crypto open 1420 MB/s": node("open"),
    "noble seal 1420 MB/s": noble("seal"),
    "noble open 1420 MB/s": noble("open"),
    "openssl full 1024 MB/s": full[1024],
    "openssl simd128 1024 MB/s": simd128[1024],
    ...(o.smoke ? {} : { "openssl full 16384 MB/s": full[16384], "openssl simd128 16384 MB/s": simd128[16384] }),
    "wasm batch seal / openssl simd128": batch("seal") / simd128[1024],
    "heap bytes per packet (sealBatch)": (after - before) / (calls * hb),
    ...coreFigures,
  };
}

function execVersion(): string {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8", timeout: 5000 });
  return r.stdout?.trim() || "openssl";
}
