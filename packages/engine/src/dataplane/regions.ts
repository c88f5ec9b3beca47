/**
 * Where one data-plane worker's buffers live in the shared memory. The main thread
 * reserves them once; the worker receives the offsets and never allocates.
 *
 * Packet slots are {@link slotStride} bytes, sized by the tunnel MTU: the largest packet,
 * its header, padding and tag. A datagram received from UDP starts at the slot (16-byte
 * transport header, then ciphertext), so after decryption the inner packet sits at slot +
 * 16, ready for the TUN, or to be sealed again in place for another peer (relay). A packet
 * read from the TUN lands at slot + 16, leaving room for the header.
 */
import { CB_ALIGN, CB_SIZE, groAreaBytes, MAX_BATCH } from "@taltun/io-shim";
import { DESC_SIZE, SCRATCH_BYTES } from "@taltun/wasm-crypto";
import { PADDING_MULTIPLE, TAG_SIZE, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { MemoryLayout } from "./memory-layout.js";
import { STAT_COUNT } from "./stats.js";

/** Packets per batch: one system call and one AEAD call move this many. */
export const BATCH = MAX_BATCH;
/** Packets a worker holds while the handshakes they wait for complete (staging.ts). */
export const STAGE_SLOTS = 64;
/**
 * 64 KiB buffers of a worker's GRO area: one recvmmsg takes at most this many datagrams
 * on a GRO socket. Every buffer must take a whole train (the kernel drops what does not
 * fit), so single datagrams cost one system call per GRO_BUFFERS of them. Measured
 * (benchmarks/src/udp-gro.ts, ns per 1452-byte packet to drain a queue, best of 25):
 * singles 567 straight into the slots, 779 / 644 / 586 / 528 through 8 / 16 / 32 / 64
 * buffers; trains of 44: 190 / 162 / 153 / 156. Sixteen keep singles within ~15% for
 * 1 MiB a worker (256 workers at MTU 65455 stay under the 4 GiB memory; 64 would not).
 */
export const GRO_BUFFERS = 16;
/** Headroom in front of a packet for the transport header. */
export const HEADROOM = TRANSPORT_HEADER_SIZE;

/** Bytes between packet slots for tunnel MTU `mtu`: header, the packet, padding and tag, 64-aligned. */
export function slotStride(mtu: number): number {
  return (HEADROOM + mtu + PADDING_MULTIPLE - 1 + TAG_SIZE + 63) & ~63;
}

/** The most a TUN read may put in a slot of `stride` bytes: room stays for header, padding and tag. */
export function tunReadCapacity(stride: number): number {
  return stride - HEADROOM - TAG_SIZE - (PADDING_MULTIPLE - 1);
}
/** Bytes of an address record and of a local address record (io-shim's, both 24). */
const ADDR = 24;
/** Bytes between cookie-reply slots: a reply is 64 bytes. */
export const COOKIE_SLOT = 64;

/** Offsets (bytes from the memory's start) of one worker's buffers. */
export interface WorkerRegions {
  /** Bytes between packet slots (see {@link slotStride}). */
  slotStride: number;
  scratch: number;
  cbRecv: number;
  cbRelay: number;
  cbTunWrite: number;
  cbTunRead: number;
  cbSend: number;
  cbPoll: number;
  /** Datagrams from UDP, decrypted in place; written to the TUN or re-sealed for relay. */
  rxPool: number;
  /** The GRO area (io-shim's): whole GRO trains land here, then are cut into rxPool's slots. */
  groArea: number;
  rxLengths: number;
  rxAddrs: number;
  /** Where each received datagram arrived (local address records). */
  rxLocals: number;
  tunWriteLengths: number;
  relayLengths: number;
  relayAddrs: number;
  /** The source each relayed packet leaves from: its peer's local address. */
  relayLocals: number;
  /** Packets from the TUN, sealed in place and sent. */
  txPool: number;
  txLengths: number;
  txAddrs: number;
  /** The source each sent packet leaves from: its peer's local address. */
  txLocals: number;
  openDescs: number;
  sealDescs: number;
  relayDescs: number;
  /** Cookie replies the worker sends, a batch at a time: BATCH slots of COOKIE_SLOT bytes. */
  cbCookie: number;
  cookiePool: number;
  cookieLengths: number;
  cookieAddrs: number;
  cookieLocals: number;
  /** Packets waiting for a session: STAGE_SLOTS slots. */
  stage: number;
  /** {@link STAT_COUNT} Int32 counters (see stats.ts). */
  stats: number;
}

/** Reserves worker `index`'s regions in `layout`, for tunnel MTU `mtu`. */
export function reserveWorkerRegions(layout: MemoryLayout, index: number, mtu: number): WorkerRegions {
  const r = (name: string, size: number, align = 16) => layout.reserve(`worker${index}.${name}`, size, align);
  const stride = slotStride(mtu);
  return {
    slotStride: stride,
    scratch: r("scratch", SCRATCH_BYTES, 64),
    cbRecv: r("cbRecv", CB_SIZE, CB_ALIGN),
    cbRelay: r("cbRelay", CB_SIZE, CB_ALIGN),
    cbTunWrite: r("cbTunWrite", CB_SIZE, CB_ALIGN),
    cbTunRead: r("cbTunRead", CB_SIZE, CB_ALIGN),
    cbSend: r("cbSend", CB_SIZE, CB_ALIGN),
    cbPoll: r("cbPoll", CB_SIZE, CB_ALIGN),
    rxPool: r("rxPool", BATCH * stride, 64),
    groArea: r("groArea", groAreaBytes(GRO_BUFFERS), 64),
    rxLengths: r("rxLengths", BATCH * 4),
    rxAddrs: r("rxAddrs", BATCH * ADDR),
    rxLocals: r("rxLocals", BATCH * ADDR),
    tunWriteLengths: r("tunWriteLengths", BATCH * 4),
    relayLengths: r("relayLengths", BATCH * 4),
    relayAddrs: r("relayAddrs", BATCH * ADDR),
    relayLocals: r("relayLocals", BATCH * ADDR),
    txPool: r("txPool", BATCH * stride, 64),
    txLengths: r("txLengths", BATCH * 4),
    txAddrs: r("txAddrs", BATCH * ADDR),
    txLocals: r("txLocals", BATCH * ADDR),
    openDescs: r("openDescs", BATCH * DESC_SIZE),
    sealDescs: r("sealDescs", BATCH * DESC_SIZE),
    relayDescs: r("relayDescs", BATCH * DESC_SIZE),
    cbCookie: r("cbCookie", CB_SIZE, CB_ALIGN),
    cookiePool: r("cookiePool", BATCH * COOKIE_SLOT, 64),
    cookieLengths: r("cookieLengths", BATCH * 4),
    cookieAddrs: r("cookieAddrs", BATCH * ADDR),
    cookieLocals: r("cookieLocals", BATCH * ADDR),
    stage: r("stage", STAGE_SLOTS * stride, 64),
    stats: r("stats", STAT_COUNT * 4, 8),
  };
}

/** Bytes one worker's regions take for tunnel MTU `mtu`, alignment included. */
export function workerRegionBytes(mtu: number): number {
  const layout = new MemoryLayout(0, Number.MAX_SAFE_INTEGER);
  reserveWorkerRegions(layout, 0, mtu);
  return layout.used + 64;
}
