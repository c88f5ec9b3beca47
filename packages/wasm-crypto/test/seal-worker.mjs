// Worker for src/workers.test.ts: instantiates the shipped module (dist/) over the shared
// memory it is given, with its own scratch region, and seals then opens its descriptor batch
// many times while the other worker does the same, then seals it a last time.
import { parentPort, workerData } from "node:worker_threads";
import { instantiateAead, DESC_SIZE, DESC_LENGTH } from "../dist/index.js";

const { memory, module, scratchPtr, descPtr, count, rounds, flag } = workerData;
const aead = instantiateAead(memory, scratchPtr, module);
const dv = new DataView(memory.buffer);
// openBatch takes the sealed length (tag included), sealBatch the plaintext length.
const shift = (by) => {
  for (let i = 0; i < count; i++) {
    const p = descPtr + i * DESC_SIZE + DESC_LENGTH;
    dv.setUint32(p, dv.getUint32(p, true) + by, true);
  }
};
const gate = new Int32Array(flag);
Atomics.add(gate, 1, 1); // ready
Atomics.wait(gate, 0, 0); // both start together, so the two instances really overlap
let opened = 0;
for (let i = 0; i < rounds; i++) {
  aead.sealBatch(descPtr, count);
  shift(16);
  opened += aead.openBatch(descPtr, count);
  shift(-16);
}
aead.sealBatch(descPtr, count);
parentPort.postMessage(opened);
