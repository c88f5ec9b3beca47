// Two builds of wasm-crypto's module side by side, for work on the AEAD: each over its own
// shared memory in this process, batch seal and open of 64 packets alternated in rounds (the
// order flips every round), and the median of the per-round ratios B/A, which a shared
// machine's drift moves far less than either figure. Pin it to a core (see aead-cores.ts):
//
//   taskset -c 0 pnpm --filter @taltun/benchmarks run bench:aead-ab A.wasm B.wasm [bytes] [rounds]
//
// Each open is timed alone: restoring the sealed packets stays outside the clock.
import { readFileSync } from "node:fs";
import { DESC_SIZE, HEAP_BASE, SCRATCH_BYTES, writeDescriptor } from "@taltun/wasm-crypto";

const N = 64, SLOT = 2048;
// The few WebAssembly constructors used here (this package compiles without lib.dom).
const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBuffer };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (m: object, imports: object) => { exports: object };
  };
}).WebAssembly;

interface Side { seal(): void; open(): number; restore(): void }

function side(file: string, size: number): Side {
  const memory = new WA.Memory({ initial: 64, maximum: 64, shared: true });
  const x = new WA.Instance(new WA.Module(readFileSync(file)), { env: { memory } }).exports as {
    init(p: number): void; sealBatch(d: number, n: number): void; openBatch(d: number, n: number): number;
  };
  x.init(HEAP_BASE);
  const seal = HEAP_BASE + SCRATCH_BYTES, open = seal + N * DESC_SIZE, key = open + N * DESC_SIZE, data = key + 64;
  const u8 = new Uint8Array(memory.buffer), i32 = new Int32Array(memory.buffer);
  for (let i = 0; i < 32; i++) u8[key + i] = i * 7 + 1;
  for (let i = 0; i < N * SLOT; i++) u8[data + i] = (i * 31) & 255;
  for (let i = 0; i < N; i++) {
    writeDescriptor(i32, seal, i, key, i, 0, data + i * SLOT, size);
    writeDescriptor(i32, open, i, key, i, 0, data + i * SLOT, size + 16);
  }
  x.sealBatch(seal, N);
  const sealed = u8.slice(data, data + N * SLOT);
  return { seal: () => x.sealBatch(seal, N), open: () => x.openBatch(open, N), restore: () => u8.set(sealed, data) };
}

const [fileA, fileB, bytesArg, roundsArg] = process.argv.slice(2);
if (!fileA || !fileB) {
  console.error("usage: bench:aead-ab A.wasm B.wasm [bytes=1420] [rounds=15]");
  process.exit(2);
}
const size = Number(bytesArg ?? 1420), rounds = Number(roundsArg ?? 15);
const iters = Math.max(20, Math.round(2e7 / (size * N)));
const sides = [side(fileA, size), side(fileB, size)];

// MB/s of seal and open over `iters` batches.
function measure(s: Side): [number, number] {
  let t = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) s.seal();
  const sealNs = process.hrtime.bigint() - t;
  let openNs = 0n;
  for (let i = 0; i < iters; i++) {
    s.restore();
    t = process.hrtime.bigint();
    if (s.open() !== N) throw new Error("a packet did not open: the two builds disagree with themselves");
    openNs += process.hrtime.bigint() - t;
  }
  const bytes = size * N * iters * 1000;
  return [bytes / Number(sealNs), bytes / Number(openNs)];
}

sides.forEach(measure); // warm-up: both tiers compiled before the clock starts
const got: [number, number][][] = [[], []];
for (let r = 0; r < rounds; r++) for (const k of r % 2 ? [1, 0] : [0, 1]) got[k].push(measure(sides[k]));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
["seal", "open"].forEach((op, j) => {
  const a = got[0].map((m) => m[j]), b = got[1].map((m) => m[j]);
  console.log(`${op} ${size} B  A ${median(a).toFixed(0)} MB/s  B ${median(b).toFixed(0)} MB/s  B/A ${median(a.map((x, i) => b[i] / x)).toFixed(3)}`);
});
