// A data-plane worker for transport-workers.test.ts: seals or opens batches on the shared
// tables through the built package, exactly as a real worker would, and reports counts.
import { parentPort, workerData } from "node:worker_threads";
import { instantiateAead } from "@taltun/wasm-crypto";
import { SharedTables, createTransportBatch, finishOpen, prepareOpen, prepareSeal } from "../dist/index.js";

const { memory, tablesBase, areaBase, mode, batches, outBase, slotBytes, first, allowed, start } = workerData;
const t = SharedTables.attach(memory.buffer, tablesBase);
const u8 = new Uint8Array(memory.buffer);
const aead = instantiateAead(memory, areaBase);
const descPtr = areaBase + 8192;
const pktBase = descPtr + 64 * 24;
const b = createTransportBatch(64, descPtr);
const flag = new Int32Array(memory.buffer, start, 1);
while (Atomics.load(flag, 0) === 0); // start together, to contend
let done = 0;
for (let k = 0; k < batches; k++) {
  b.count = 64;
  for (let i = 0; i < 64; i++) {
    b.data[i] = pktBase + i * slotBytes + 16;
    if (mode === "seal") {
      b.peers[i] = 0;
      b.lengths[i] = 100;
      u8.fill(0, b.data[i], b.data[i] + 100);
      u8.set([0x45, 0, 0, 100, 0, 0, 0, 0, 64, 17, 0, 0, 100, 64, 0, 1, 100, 64, 0, 2], b.data[i]);
    } else {
      const src = outBase + (k * 64 + i) * slotBytes;
      b.data[i] = pktBase + i * slotBytes;
      b.lengths[i] = 144; // 16 + 100 padded to 112 + 16
      b.sources[i] = 0;
      u8.copyWithin(b.data[i], src, src + 144);
    }
  }
  if (mode === "seal") {
    const n = prepareSeal(t, b, 0);
    aead.sealBatch(b.descPtr, n);
    for (let i = 0; i < 64; i++) {
      const dst = outBase + (first + k * 64 + i) * slotBytes;
      u8.copyWithin(dst, b.data[i] - 16, b.data[i] - 16 + b.lengths[i]);
    }
    done += n;
  } else {
    const n = prepareOpen(t, b, 0);
    aead.openBatch(b.descPtr, n);
    done += finishOpen(t, b, n, allowed);
  }
}
parentPort.postMessage(done);
