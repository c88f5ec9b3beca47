/**
 * The keypair slot: one session's record in the shared tables (whitepaper §5.4.6), and
 * the only module that reads or writes its words. 704 bytes:
 *
 * | bytes | field | written by |
 * |---|---|---|
 * | 0 | replay lock | workers |
 * | 4 | send lock (counter reservation) | workers |
 * | 8 | flags: VALID, SEND_ALLOWED, INITIATOR, EXPIRED, REKEY_REQUESTED | control plane; workers add SEND_ALLOWED, EXPIRED, REKEY_REQUESTED |
 * | 12 | owning peer slot + 1 (0 = none) | control plane |
 * | 16, 20 | local and remote receiver index | control plane |
 * | 24, 28 | send counter (lo, hi) | workers, under the send lock |
 * | 32 | created at: float64, ms of the monotonic clock | control plane |
 * | 64, 96 | send key, receive key (32 bytes each, read in place by wasm-crypto) | control plane |
 * | 128 | replay window (REPLAY_WORDS words) | workers, under the replay lock |
 *
 * A zeroed slot is empty: no owner, not valid, no keys.
 * @module
 */
import { KEY_SIZE } from "../protocol/constants.js";
import { LayoutError } from "../protocol/errors.js";
import { REPLAY_WORDS, replayAccept, replayReset } from "../protocol/replay.js";
import { KEYPAIR_SLOT_BYTES, type SharedTables } from "./shared-tables.js";

const K_LOCK = 0;
const K_SEND_LOCK = 1;
const K_FLAGS = 2;
const K_PEER = 3;
const K_LOCAL_INDEX = 4;
const K_REMOTE_INDEX = 5;
const K_SEND_LO = 6;
const K_SEND_HI = 7;
const K_CREATED_BYTE = 32;
const K_SEND_KEY_BYTE = 64;
const K_RECV_KEY_BYTE = 96;
const K_REPLAY = 32;

// The replay window must fit in its slot (guards edits of REPLAY_RING_WORDS).
if ((K_REPLAY + REPLAY_WORDS) * 4 > KEYPAIR_SLOT_BYTES) throw new LayoutError("replay window does not fit a keypair slot");

/** Installed and not retired. */
export const KP_VALID = 1;
/** May seal: always for the initiator, for the responder once the peer used it. */
export const KP_SEND_ALLOWED = 2;
/** We initiated the handshake that made it (only the initiator rekeys on age). */
export const KP_INITIATOR = 4;
/** Older than REJECT_AFTER_TIME, or pushed out: opens and seals nothing more. */
export const KP_EXPIRED = 8;
/** A worker already asked for the handshake that replaces it. */
export const KP_REKEY_REQUESTED = 16;

/** REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1 as (hi, lo): a counter must stay below it. */
export const REJECT_HI = 0xffffffff;
export const REJECT_LO = 0xffffdfff;

/** What the control plane installs in a slot. */
export interface KeypairInit {
  peer: number;
  localIndex: number;
  remoteIndex: number;
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
  createdAt: number;
  initiator: boolean;
}

const word = (t: SharedTables, slot: number, field: number) => t.keypairWord(slot, field);

/** Fill slot `slot` with a new session and make it VALID last, so workers see it whole. */
export function initKeypair(t: SharedTables, slot: number, k: KeypairInit): void {
  resetReplay(t, slot);
  t.i32[word(t, slot, K_SEND_LO)] = 0;
  t.i32[word(t, slot, K_SEND_HI)] = 0;
  t.i32[word(t, slot, K_PEER)] = k.peer + 1;
  t.i32[word(t, slot, K_LOCAL_INDEX)] = k.localIndex | 0;
  t.i32[word(t, slot, K_REMOTE_INDEX)] = k.remoteIndex | 0;
  t.f64[t.keypairByte(slot, K_CREATED_BYTE) >> 3] = k.createdAt;
  t.u8.set(k.sendKey.subarray(0, KEY_SIZE), t.keypairByte(slot, K_SEND_KEY_BYTE));
  t.u8.set(k.receiveKey.subarray(0, KEY_SIZE), t.keypairByte(slot, K_RECV_KEY_BYTE));
  Atomics.store(t.i32, word(t, slot, K_FLAGS), KP_VALID | (k.initiator ? KP_INITIATOR | KP_SEND_ALLOWED : 0));
}

/** Zero the whole slot: keys, counters, window. Only for a slot no worker can still reach. */
export function wipeKeypair(t: SharedTables, slot: number): void {
  const start = t.keypairByte(slot, 0);
  t.u8.fill(0, start, start + KEYPAIR_SLOT_BYTES);
}

/** The slot's flags (KP_*). */
export function keypairFlags(t: SharedTables, slot: number): number {
  return Atomics.load(t.i32, word(t, slot, K_FLAGS));
}

/** Add `flags`; returns the flags before. */
export function addKeypairFlags(t: SharedTables, slot: number, flags: number): number {
  return Atomics.or(t.i32, word(t, slot, K_FLAGS), flags);
}

/** Clear every flag (retire: workers stop using it at once); returns the flags before. */
export function clearKeypairFlags(t: SharedTables, slot: number): number {
  return Atomics.exchange(t.i32, word(t, slot, K_FLAGS), 0);
}

/** The peer slot that owns keypair slot `slot`, -1 for none. */
export function keypairPeer(t: SharedTables, slot: number): number {
  return Atomics.load(t.i32, word(t, slot, K_PEER)) - 1;
}

/** The receiver index peers use to reach this keypair (ours). */
export function localIndex(t: SharedTables, slot: number): number {
  return t.i32[word(t, slot, K_LOCAL_INDEX)] >>> 0;
}

/** The receiver index we put in datagrams sealed with this keypair (the peer's). */
export function remoteIndex(t: SharedTables, slot: number): number {
  return t.i32[word(t, slot, K_REMOTE_INDEX)] >>> 0;
}

/** When the keypair was made, ms of the monotonic clock. */
export function keypairCreatedAt(t: SharedTables, slot: number): number {
  return t.f64[t.keypairByte(slot, K_CREATED_BYTE) >> 3];
}

/** Byte address of the send key (where wasm-crypto reads it). */
export function sendKeyAddress(t: SharedTables, slot: number): number {
  return t.keypairByte(slot, K_SEND_KEY_BYTE);
}

/** Byte address of the receive key (where wasm-crypto reads it). */
export function receiveKeyAddress(t: SharedTables, slot: number): number {
  return t.keypairByte(slot, K_RECV_KEY_BYTE);
}

/**
 * Reserve up to `wanted` consecutive send counters, never reaching REJECT_AFTER_MESSAGES.
 * The first is written to `first[0]` (lo) and `first[1]` (hi); returns how many were taken.
 * Workers call it concurrently: counters are reserved under the send lock, so none repeats.
 */
export function reserveCounters(t: SharedTables, slot: number, wanted: number, first: Uint32Array): number {
  const i32 = t.i32;
  const lock = word(t, slot, K_SEND_LOCK);
  t.lock(lock);
  const lo = i32[word(t, slot, K_SEND_LO)] >>> 0;
  const hi = i32[word(t, slot, K_SEND_HI)] >>> 0;
  const available = hi === REJECT_HI ? Math.max(0, REJECT_LO - lo) : Infinity;
  const take = Math.min(wanted, available);
  const next = lo + take;
  i32[word(t, slot, K_SEND_LO)] = next;
  if (next > 0xffffffff) i32[word(t, slot, K_SEND_HI)] = hi + 1;
  t.unlock(lock);
  first[0] = lo;
  first[1] = hi;
  return take;
}

/** Set the send counter (tests that start near a limit). */
export function setSendCounter(t: SharedTables, slot: number, lo: number, hi: number): void {
  t.i32[word(t, slot, K_SEND_LO)] = lo | 0;
  t.i32[word(t, slot, K_SEND_HI)] = hi | 0;
}

/** Take the replay window's lock: a run of authentic packets is recorded under one lock. */
export function lockReplay(t: SharedTables, slot: number): void {
  t.lock(word(t, slot, K_LOCK));
}

/** Release {@link lockReplay}. */
export function unlockReplay(t: SharedTables, slot: number): void {
  t.unlock(word(t, slot, K_LOCK));
}

/** Empty the replay window (benchmarks open the same datagrams again and again). */
export function resetReplay(t: SharedTables, slot: number): void {
  replayReset(t.i32, word(t, slot, K_REPLAY));
}

/** Record counter (lo, hi) in the replay window, under {@link lockReplay}: false when it was seen or is too old. */
export function acceptCounter(t: SharedTables, slot: number, lo: number, hi: number): boolean {
  return replayAccept(t.i32, word(t, slot, K_REPLAY), lo, hi);
}
