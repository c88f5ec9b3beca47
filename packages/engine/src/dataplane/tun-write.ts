/**
 * A worker's TUN writes: the packets a batch delivers, written with as few calls as the
 * kernel allows. Apart from the datapath because it is a mechanism of its own: the
 * kernel's TUN write stops at a packet it rejects, and what follows must still go.
 */
import type { BatchControl } from "@taltun/io-shim";
import type { BatchIo } from "./batch-io.js";
import { STAT } from "./stats.js";

const EAGAIN = 11;

/**
 * Writes the `pending` packets among the first `n` slots of `cb` (`lengths`, 0 = a hole)
 * to the TUN. The kernel stops a batch at a packet it rejects: skip that one and write the
 * rest; a full queue (EAGAIN) drops what is left, as a full NIC queue would. Counts calls,
 * packets written and errors in the worker's counters (`stats`: an Int32 index into `i32`).
 */
export function writeTun(io: BatchIo, cb: BatchControl, lengths: Uint32Array, n: number, pending: number, i32: Int32Array, stats: number): void {
  while (pending > 0) {
    cb.count = n;
    const w = Math.max(io.tunWrite(cb), 0);
    Atomics.add(i32, stats + STAT.ioCalls, 1);
    Atomics.add(i32, stats + STAT.deliveredToTun, w);
    pending -= w;
    if (pending === 0 || cb.errno === EAGAIN) break;
    // Clear the w written packets and the rejected one after them, then go on.
    for (let i = 0, skip = w + 1; i < n && skip > 0; i++) {
      if (lengths[i] === 0) continue;
      lengths[i] = 0;
      skip--;
    }
    pending--;
    Atomics.add(i32, stats + STAT.tunWriteErrors, 1);
  }
  if (pending > 0) Atomics.add(i32, stats + STAT.tunWriteErrors, pending);
}
