/**
 * Per-worker counters in shared memory: the worker bumps them without allocating, the
 * control plane sums them for `taltun show --json` and for the benchmarks (FFI calls per
 * packet, drops by reason).
 */

/** Counter names, in the order of their Int32 slots. */
export const STAT_NAMES = [
  "udpDatagrams",
  "tunPackets",
  "deliveredToTun",
  "relayed",
  "sent",
  "handshakeMessages",
  "droppedRejected",
  "droppedNoRoute",
  /** Packets held until a handshake completes, then sent. */
  "staged",
  /** Staged packets pushed out by newer ones before their session came. */
  "droppedNoSession",
  "droppedNoEndpoint",
  "droppedRingFull",
  "sendErrors",
  "tunWriteErrors",
  "ioCalls",
  "aeadCalls",
  /** Sampled about once a second: this worker's V8 heap in use, KiB. */
  "heapUsedKiB",
  /** How many heap samples were taken (the first ones are warm-up). */
  "heapSamples",
] as const;

/** A counter's name. */
export type StatName = (typeof STAT_NAMES)[number];
/** Number of counters. */
export const STAT_COUNT = STAT_NAMES.length;
/** Slot index of each counter. */
export const STAT = Object.fromEntries(STAT_NAMES.map((n, i) => [n, i])) as Record<StatName, number>;

/** Sums the counters of every worker (their regions at `offsets`). */
export function sumStats(buffer: ArrayBufferLike, offsets: readonly number[]): Record<StatName, number> {
  const i32 = new Int32Array(buffer);
  const out = Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Record<StatName, number>;
  for (const base of offsets) {
    for (let i = 0; i < STAT_COUNT; i++) out[STAT_NAMES[i]] += Atomics.load(i32, (base >> 2) + i) >>> 0;
  }
  return out;
}
