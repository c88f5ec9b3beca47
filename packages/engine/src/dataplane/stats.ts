import { RX_DROP_NAMES } from "../transport/batch.js";

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
  // Received datagrams that were not delivered, by reason (receive.ts owns the list).
  ...RX_DROP_NAMES,
  "droppedNoRoute",
  /** Packets held until a handshake completes, then sent. */
  "staged",
  /** Staged packets dropped before their session came: pushed out by newer ones, or their peer was removed. */
  "droppedNoSession",
  "droppedNoEndpoint",
  /** Handshake messages dropped because the control plane's ring (or the priority ring) was full. */
  "droppedRingFull",
  /** Datagrams of a handshake type (1-3) whose length is not that message's size. */
  "droppedHandshakeSize",
  // Handshake messages the worker's gate (handshake-guard.ts) rejected, by reason: never in a ring.
  /** An initiation or response whose MAC1 is not valid for our key. */
  "rejectedBadMac1",
  /** A response or cookie reply that answers no handshake or keypair of ours. */
  "rejectedUnknownIndex",
  /** Under load: over the per-source-address limit of handshake messages (cookie replies and MAC2-valid ones together). */
  "rejectedRateLimit",
  /** An initiation or response while the interface has no private key. */
  "rejectedNoKey",
  /** Cookie replies the worker sent itself, under load, to messages without a valid MAC2. */
  "cookieReplies",
  /** Handshake messages put in the priority ring (a subset of handshakeMessages). */
  "handshakePriority",
  /** Received datagrams (or segments of a GRO train) dropped whole: cut short by the kernel, or longer than a slot. */
  "droppedTruncated",
  /** GRO trains received: datagrams the kernel merged from several, cut back into one slot each. */
  "groTrains",
  /** Coalesced (UDP_SEGMENT) sends the kernel refused, sent one packet at a time instead. */
  "gsoFallbacks",
  "sendErrors",
  /** Packets sent from the kernel's choice of source because their peer's sticky local address was refused (gone from the host); the peer forgets it. */
  "sourceFallbacks",
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
/** Slot of the first receive counter: `TransportBatch.drops` is a view of the run from here. */
export const RX_DROPS_FIRST = STAT[RX_DROP_NAMES[0]];

/** Sums the counters of every worker (their regions at `offsets`). */
export function sumStats(buffer: ArrayBufferLike, offsets: readonly number[]): Record<StatName, number> {
  const i32 = new Int32Array(buffer);
  const out = Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Record<StatName, number>;
  for (const base of offsets) {
    for (let i = 0; i < STAT_COUNT; i++) out[STAT_NAMES[i]] += Atomics.load(i32, (base >> 2) + i) >>> 0;
  }
  return out;
}
