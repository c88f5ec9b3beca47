/**
 * The peer slot: one peer's record in the shared tables, and the only module that reads or
 * writes its words. 128 bytes, Int32 words (u32 values read with `>>> 0`):
 *
 * | word | field | written by |
 * |---|---|---|
 * | 0 | lock (endpoint record and keypair references) | both |
 * | 1 | flags: IN_USE, WANT_HANDSHAKE | control plane; workers set WANT_HANDSHAKE |
 * | 2, 3, 4 | current, previous, next keypair slot + 1 (0 = none) | control plane; workers promote next |
 * | 5-6, 7-8 | tx, rx bytes (lo, hi) | workers |
 * | 9, 10, 11, 12 | tx packets, tx data packets, rx packets, rx data packets | workers |
 * | 13 | promotions (next -> current, by workers) | workers |
 * | 14 | endpoint sequence: odd while the endpoint or local record is being written | both, under the lock |
 * | 15 | generation: bumped each time the slot is given to a peer | control plane |
 * | bytes 64-87 | endpoint record (io-shim's address record) | both, under the lock |
 * | bytes 88-111 | local address record (io-shim's): where the peer's latest authentic packet arrived, the source replies leave from (family 0: none, the kernel picks) | both, under the lock, with the endpoint |
 * | bytes 112-127 | free | |
 *
 * The endpoint and the local address are one record for the sequence word (14): a reader
 * gets both from the same write. The local address is the sticky source: a worker sets it
 * with the endpoint when a peer roams ({@link roamEndpoint}), the control plane when a
 * handshake message authenticates ({@link learnLocal}) and clears it when it gives the peer
 * another endpoint; a send the kernel refused from it (the address left the host) forgets
 * it ({@link forgetLocal}).
 *
 * A zeroed slot is an empty one: keypair references are stored as slot + 1, so zero means
 * none, and a new or reused slot cannot point at another peer's keypair.
 * @module
 */
import { LOCAL_SIZE } from "@taltun/io-shim/address";
import type { EndpointRecord } from "./endpoint.js";
import { ENDPOINT_BYTES, PEER_SLOT_BYTES, type SharedTables } from "./shared-tables.js";

const P_LOCK = 0;
const P_FLAGS = 1;
/** The keypair references of a peer: which of its (up to) three keypairs. */
export const CURRENT = 2;
export const PREVIOUS = 3;
export const NEXT = 4;
const P_TX_BYTES = 5;
const P_RX_BYTES = 7;
const P_TX_PACKETS = 9;
const P_TX_DATA = 10;
const P_RX_PACKETS = 11;
const P_RX_DATA = 12;
const P_PROMOTIONS = 13;
const P_ENDPOINT_SEQ = 14;
const P_GENERATION = 15;
const P_ENDPOINT_BYTE = 64;
const P_LOCAL_BYTE = 88;

/** Bytes of a local address record (io-shim's): the address a peer reached us at. */
export const LOCAL_BYTES = LOCAL_SIZE;

const IN_USE = 1;
const WANT_HANDSHAKE = 2;

/** One of a peer's keypair references. */
export type KeypairRole = typeof CURRENT | typeof PREVIOUS | typeof NEXT;

/** The counters workers bump and the control plane polls. */
export interface PeerCounters {
  txPackets: number;
  txData: number;
  rxPackets: number;
  rxData: number;
  promotions: number;
  endpointSeq: number;
}

const word = (t: SharedTables, peer: number, field: number) => t.peerWord(peer, field);

/** The keypair slot `role` of `peer` refers to, -1 for none. */
export function keypairOf(t: SharedTables, peer: number, role: KeypairRole): number {
  return Atomics.load(t.i32, word(t, peer, role)) - 1;
}

/** Point `role` of `peer` at keypair slot `slot` (-1: none). Callers hold the peer lock. */
export function setKeypairOf(t: SharedTables, peer: number, role: KeypairRole, slot: number): void {
  Atomics.store(t.i32, word(t, peer, role), slot + 1);
}

/** Take the peer's lock (keypair references, endpoint record). */
export function lockPeer(t: SharedTables, peer: number): void {
  t.lock(word(t, peer, P_LOCK));
}

/** Release {@link lockPeer}. */
export function unlockPeer(t: SharedTables, peer: number): void {
  t.unlock(word(t, peer, P_LOCK));
}

/**
 * Give slot `peer` to a new peer (control plane): every word zeroed (no keypairs, counters
 * 0, no endpoint), IN_USE set and the generation bumped. The lock word is left alone: a
 * worker still finishing a batch for the old peer releases it.
 */
export function claimPeer(t: SharedTables, peer: number): void {
  const start = word(t, peer, 0);
  const generation = t.i32[start + P_GENERATION];
  t.i32.fill(0, start + P_LOCK + 1, start + PEER_SLOT_BYTES / 4);
  Atomics.store(t.i32, start + P_GENERATION, (generation + 1) | 0);
  Atomics.store(t.i32, start + P_FLAGS, IN_USE);
}

/** The slot is no one's any more (its keypairs are retired separately). */
export function releasePeer(t: SharedTables, peer: number): void {
  Atomics.store(t.i32, word(t, peer, P_FLAGS), 0);
}

/** How many times slot `peer` was given to a peer: a packet held for one peer checks it is still that one. */
export function peerGeneration(t: SharedTables, peer: number): number {
  return Atomics.load(t.i32, word(t, peer, P_GENERATION));
}

/** A worker asks the control plane for a handshake with `peer`. */
export function requestHandshake(t: SharedTables, peer: number): void {
  Atomics.or(t.i32, word(t, peer, P_FLAGS), WANT_HANDSHAKE);
}

/** The control plane takes (and clears) a worker's request for a handshake. */
export function takeHandshakeRequest(t: SharedTables, peer: number): boolean {
  return (Atomics.and(t.i32, word(t, peer, P_FLAGS), ~WANT_HANDSHAKE) & WANT_HANDSHAKE) !== 0;
}

/** Whether a worker has asked for a handshake (tests, show). */
export function handshakeRequested(t: SharedTables, peer: number): boolean {
  return (Atomics.load(t.i32, word(t, peer, P_FLAGS)) & WANT_HANDSHAKE) !== 0;
}

/** Add n to a (lo, hi) u32 pair of words; the adder that wraps lo carries into hi. */
function add64(i32: Int32Array, loWord: number, n: number): void {
  const old = Atomics.add(i32, loWord, n) >>> 0;
  if (old + n > 0xffffffff) Atomics.add(i32, loWord + 1, 1);
}

const read64 = (i32: Int32Array, loWord: number) => (Atomics.load(i32, loWord) >>> 0) + (Atomics.load(i32, loWord + 1) >>> 0) * 2 ** 32;

/** A worker sealed `packets` datagrams (`data` of them not keepalives) of `bytes` in all for `peer`. */
export function countSent(t: SharedTables, peer: number, packets: number, data: number, bytes: number): void {
  add64(t.i32, word(t, peer, P_TX_BYTES), bytes);
  Atomics.add(t.i32, word(t, peer, P_TX_PACKETS), packets);
  if (data > 0) Atomics.add(t.i32, word(t, peer, P_TX_DATA), data);
}

/** A worker accepted `packets` authentic datagrams (`data` of them not keepalives) of `bytes` from `peer`. */
export function countReceived(t: SharedTables, peer: number, packets: number, data: number, bytes: number): void {
  add64(t.i32, word(t, peer, P_RX_BYTES), bytes);
  Atomics.add(t.i32, word(t, peer, P_RX_PACKETS), packets);
  if (data > 0) Atomics.add(t.i32, word(t, peer, P_RX_DATA), data);
}

/** A worker made `next` the current keypair of `peer` (the responder's confirmation). */
export function countPromotion(t: SharedTables, peer: number): void {
  Atomics.add(t.i32, word(t, peer, P_PROMOTIONS), 1);
}

/** A record for {@link readCounters} to fill, all zero. */
export function newCounters(): PeerCounters {
  return { txPackets: 0, txData: 0, rxPackets: 0, rxData: 0, promotions: 0, endpointSeq: 0 };
}

/** The counters workers bump, as of now, into `out` (a fresh record when omitted). */
export function readCounters(t: SharedTables, peer: number, out: PeerCounters = newCounters()): PeerCounters {
  out.txPackets = Atomics.load(t.i32, word(t, peer, P_TX_PACKETS));
  out.txData = Atomics.load(t.i32, word(t, peer, P_TX_DATA));
  out.rxPackets = Atomics.load(t.i32, word(t, peer, P_RX_PACKETS));
  out.rxData = Atomics.load(t.i32, word(t, peer, P_RX_DATA));
  out.promotions = Atomics.load(t.i32, word(t, peer, P_PROMOTIONS));
  out.endpointSeq = Atomics.load(t.i32, word(t, peer, P_ENDPOINT_SEQ));
  return out;
}

/** Bytes sent to and received from `peer`, all authentic datagrams counted whole. */
export function transferred(t: SharedTables, peer: number): { txBytes: number; rxBytes: number } {
  return { txBytes: read64(t.i32, word(t, peer, P_TX_BYTES)), rxBytes: read64(t.i32, word(t, peer, P_RX_BYTES)) };
}

/** Absolute byte address of the endpoint record of `peer`. */
function endpointAddress(t: SharedTables, peer: number): number {
  return t.peerWord(peer, 0) * 4 + P_ENDPOINT_BYTE;
}

/** Absolute byte address of the local address record of `peer`. */
function localAddress(t: SharedTables, peer: number): number {
  return t.peerWord(peer, 0) * 4 + P_LOCAL_BYTE;
}

/** The endpoint record's sequence: it changes whenever the record (or the local address) does. */
export function endpointSequence(t: SharedTables, peer: number): number {
  return Atomics.load(t.i32, word(t, peer, P_ENDPOINT_SEQ));
}

/** Take the lock and make the sequence odd: the endpoint and local records are being written. */
function beginWrite(t: SharedTables, peer: number): void {
  lockPeer(t, peer);
  Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
}

function endWrite(t: SharedTables, peer: number): void {
  Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
  unlockPeer(t, peer);
}

/** Copy `len` bytes from byte `from` of `src` to byte `to` of the shared buffer, zeroing the rest of `size`. */
function put(t: SharedTables, to: number, size: number, src: Uint8Array, from: number): void {
  const len = Math.max(0, Math.min(size, src.length - from));
  t.u8.fill(0, to + len, to + size);
  if (src === t.u8) t.u8.copyWithin(to, from, from + len);
  else t.u8.set(src.subarray(from, from + len), to);
}

/** Whether `size` bytes at `at` of the shared buffer equal those of `rec` from `from` (missing ones count as 0). */
function same(t: SharedTables, at: number, size: number, rec: Uint8Array, from: number): boolean {
  const u8 = t.u8;
  for (let k = 0; k < size; k++) if (u8[at + k] !== (from + k < rec.length ? rec[from + k] : 0)) return false;
  return true;
}

/**
 * Record `endpoint` as where `peer` is (control plane); returns the record as stored. A
 * new endpoint clears the local address (it was where the old one reached us); the same
 * endpoint again (a handshake, a configuration) keeps it.
 */
export function writeEndpoint(t: SharedTables, peer: number, endpoint: EndpointRecord): EndpointRecord {
  const dst = endpointAddress(t, peer);
  beginWrite(t, peer);
  if (!same(t, dst, ENDPOINT_BYTES, endpoint, 0)) t.u8.fill(0, localAddress(t, peer), localAddress(t, peer) + LOCAL_BYTES);
  put(t, dst, ENDPOINT_BYTES, endpoint, 0);
  endWrite(t, peer);
  return endpoint.slice(0, ENDPOINT_BYTES);
}

/**
 * Roaming (a worker): the endpoint of `peer` becomes the record at byte `src` of the shared
 * buffer, the source of its latest authentic packet, and its local address the record at
 * byte `local` (where that packet arrived; 0: unknown, none). Writes only when either
 * changed; both at once, under the lock and the sequence.
 */
export function roamEndpoint(t: SharedTables, peer: number, src: number, local: number): void {
  const u8 = t.u8;
  const dst = endpointAddress(t, peer);
  const ldst = localAddress(t, peer);
  let unchanged = true;
  for (let k = 0; k < ENDPOINT_BYTES && unchanged; k++) unchanged = u8[dst + k] === u8[src + k];
  for (let k = 0; k < LOCAL_BYTES && unchanged; k++) unchanged = u8[ldst + k] === (local === 0 ? 0 : u8[local + k]);
  if (unchanged) return;
  beginWrite(t, peer);
  u8.copyWithin(dst, src, src + ENDPOINT_BYTES);
  if (local === 0) u8.fill(0, ldst, ldst + LOCAL_BYTES);
  else u8.copyWithin(ldst, local, local + LOCAL_BYTES);
  endWrite(t, peer);
}

/**
 * The control plane took an authentic handshake message of `peer` from `endpoint` that
 * arrived at `local` (a local address record): when `endpoint` is still the peer's, `local`
 * becomes its local address, so what we send it next (the response, keepalives, data)
 * leaves from where it reached us.
 */
export function learnLocal(t: SharedTables, peer: number, endpoint: EndpointRecord, local: Uint8Array): void {
  const dst = endpointAddress(t, peer);
  const ldst = localAddress(t, peer);
  lockPeer(t, peer);
  if (same(t, dst, ENDPOINT_BYTES, endpoint, 0) && !same(t, ldst, LOCAL_BYTES, local, 0)) {
    Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
    put(t, ldst, LOCAL_BYTES, local, 0);
    Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
  }
  unlockPeer(t, peer);
}

/**
 * A send to `peer` from its local address was refused and went from the kernel's choice
 * instead (io-shim's fall-over: the address left the host). `at` is the refused record
 * (byte offset in the shared buffer; io-shim cleared its family and kept the rest). Forgets
 * the peer's local address if it is still that one, so its next packets leave from the
 * kernel's choice until the peer reaches us again. Returns whether it forgot.
 */
export function forgetLocal(t: SharedTables, peer: number, at: number): boolean {
  const u8 = t.u8;
  const ldst = localAddress(t, peer);
  lockPeer(t, peer);
  let match = (u8[ldst] | u8[ldst + 1]) !== 0;
  for (let k = 2; k < LOCAL_BYTES && match; k++) match = u8[ldst + k] === u8[at + k];
  if (match) {
    Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
    u8.fill(0, ldst, ldst + LOCAL_BYTES);
    Atomics.add(t.i32, word(t, peer, P_ENDPOINT_SEQ), 1);
  }
  unlockPeer(t, peer);
  return match;
}

/**
 * Copy the endpoint record of `peer` to byte `dst` of the shared buffer (e.g. into a
 * sendmmsg header), and its local address record to byte `localDst` (>= 0; -1: not
 * wanted); false when the peer has no endpoint yet. Both from one write, even while a
 * worker or the control plane rewrites them (seqlock: retry while the sequence is odd or
 * moved).
 */
export function copyEndpoint(t: SharedTables, peer: number, dst: number, localDst = -1): boolean {
  const seq = word(t, peer, P_ENDPOINT_SEQ);
  const src = endpointAddress(t, peer);
  const u8 = t.u8;
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    u8.copyWithin(dst, src, src + ENDPOINT_BYTES);
    if (localDst >= 0) u8.copyWithin(localDst, src + (P_LOCAL_BYTE - P_ENDPOINT_BYTE), src + (P_LOCAL_BYTE - P_ENDPOINT_BYTE) + LOCAL_BYTES);
    if (Atomics.load(t.i32, seq) === before) return u8[dst] !== 0;
  }
}

/** The endpoint record of `peer` as a copy, with the sequence it was read at (control plane). */
export function readEndpoint(t: SharedTables, peer: number): { record: EndpointRecord; seq: number } {
  const seq = word(t, peer, P_ENDPOINT_SEQ);
  const at = endpointAddress(t, peer);
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    const record = t.u8.slice(at, at + ENDPOINT_BYTES);
    if (Atomics.load(t.i32, seq) === before) return { record, seq: before };
  }
}

/** The local address record of `peer` as a copy (control plane, tests): family 0 = none. */
export function readLocal(t: SharedTables, peer: number): Uint8Array {
  const seq = word(t, peer, P_ENDPOINT_SEQ);
  const at = localAddress(t, peer);
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    const record = t.u8.slice(at, at + LOCAL_BYTES);
    if (Atomics.load(t.i32, seq) === before) return record;
  }
}
