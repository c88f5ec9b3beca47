// AEAD micro-benchmark (RFC 8439 ChaCha20-Poly1305): @taltun/wasm-crypto (batch of 64 in
// place, single calls at pointers, the convenience API) against node:crypto and
// @noble/ciphers per packet, OpenSSL's own figure from `openssl speed`, and the JS heap
// before/after a million batch calls. Every task does 64 packets per iteration, so the
// columns compare like with like.
import { spawnSync } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { Bench } from "tinybench";
import * as wc from "@taltun/wasm-crypto";

const SIZES = [64, 512, 1420];
const N = 64; // packets per iteration (and per batch)
const SLOT = 2048;
const TIME_MS = 400;

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
function warm(fn: () => void, before?: () => void): void {
  const end = performance.now() + 300;
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
  const restore = (): void => u8.copyWithin(DATA, PRISTINE, PRISTINE + N * SLOT);
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

async function measure(): Promise<Row[]> {
  const rows: Row[] = [];
  const key = new Uint8Array(randomBytes(32));
  for (const size of SIZES) {
    const tasks = tasksFor(size, key);
    const bench = new Bench({ time: TIME_MS, warmupTime: 100 });
    for (const t of tasks) {
      warm(t.fn, t.before);
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

/** OpenSSL's chacha20-poly1305 streaming figure, 1024-byte column, in MB/s (null when unavailable). */
function opensslMBps(): number | null {
  const r = spawnSync("openssl", ["speed", "-evp", "chacha20-poly1305", "-seconds", "1"], { encoding: "utf8" });
  const line = r.stdout?.split("\n").find((l) => /^chacha20-poly1305\s/i.test(l.trim()));
  if (!line) return null;
  const cols = line.trim().split(/\s+/).slice(1); // 16 64 256 1024 8192 16384 bytes, in "k" (1000 B/s)
  return Number.parseFloat(cols[3]) / 1000;
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

/** Runs the AEAD suite and prints its table. */
export async function runAeadBench(): Promise<void> {
  console.log(
    `\n## AEAD: ChaCha20-Poly1305 (node ${process.version}, ${N} packets per iteration, median of ${TIME_MS} ms of samples, ${new Date().toISOString()})\n`,
  );
  const rows = await measure();
  console.log(`${pad("op", 5)} ${lpad("bytes", 5)}  ${pad("implementation", 20)} ${lpad("MB/s", 8)} ${lpad("us/pkt", 8)} ${lpad("x node", 7)}`);
  for (const r of rows) {
    const node = rows.find((x) => x.op === r.op && x.size === r.size && x.impl === "node:crypto")!;
    console.log(
      `${pad(r.op, 5)} ${lpad(String(r.size), 5)}  ${pad(r.impl, 20)} ${lpad(r.mbps.toFixed(0), 8)} ${lpad(r.usPerPacket.toFixed(3), 8)} ${lpad((r.mbps / node.mbps).toFixed(2), 7)}`,
    );
  }
  const ossl = opensslMBps();
  const batch = (op: string): number => rows.find((x) => x.op === op && x.size === 1420 && x.impl === "wasm-crypto batch")!.mbps;
  if (ossl === null) {
    console.log("\nopenssl speed: not available");
  } else {
    console.log(`\nopenssl speed -evp chacha20-poly1305 -seconds 1, 1024-byte column: ${ossl.toFixed(0)} MB/s`);
    console.log(`wasm-crypto batch seal 1420 B: ${batch("seal").toFixed(0)} MB/s = ${(batch("seal") / ossl).toFixed(2)} of OpenSSL`);
    console.log(`wasm-crypto batch open 1420 B: ${batch("open").toFixed(0)} MB/s = ${(batch("open") / ossl).toFixed(2)} of OpenSSL`);
  }
  const calls = 1_000_000, hb = 4, hs = 64;
  const { before, after } = heapCheck(calls, hb, hs);
  const gcNote = (globalThis as { gc?: unknown }).gc ? "after global.gc()" : "WITHOUT --expose-gc: figures include garbage";
  console.log(
    `\nheap: ${calls.toLocaleString("en")} sealBatch calls (${hb} x ${hs} B each), heapUsed ${before} -> ${after} bytes ` +
      `(${after - before >= 0 ? "+" : ""}${after - before}), ${gcNote}`,
  );
}
