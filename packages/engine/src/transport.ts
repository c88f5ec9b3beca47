/**
 * The transport-data path (whitepaper §5.4.6) as the data-plane workers run it, one call
 * per BATCH, allocating nothing per packet. Packets stay where they are in the shared
 * memory; these functions only write headers, padding and wasm-crypto descriptors, and
 * judge the results:
 *
 * ```
 * seal:  n = prepareSeal(tables, batch, now);  aead.sealBatch(batch.descPtr, n)
 *        -> datagram i at data[i] - 16, lengths[i] bytes (0: not sendable now)
 * open:  n = prepareOpen(tables, batch, now);  aead.openBatch(batch.descPtr, n)
 *        accepted = finishOpen(tables, batch, n, allowedIps, now)
 *        -> inner packet i at data[i] + 16, lengths[i] bytes, from peer slot peers[i]
 * ```
 *
 * Counters are reserved under the keypair's send lock so workers never reuse one; the
 * replay window is updated under its lock only after the tag verified; the responder's
 * `next` keypair is promoted to `current` on its first authenticated packet.
 * @module
 */
import { DESC_SIZE } from "./_aead.js";
import { lookupPacket } from "./allowed-ips.js";
import { MESSAGE_TRANSPORT, PADDING_MULTIPLE, REJECT_AFTER_TIME, REKEY_AFTER_TIME, TAG_SIZE, TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "./constants.js";
import { readU32, writeTransportHeader } from "./messages.js";
import { replayAccept } from "./replay.js";
import {
  ENDPOINT_BYTES,
  K_CREATED_BYTE,
  K_FLAGS,
  K_LOCAL_INDEX,
  K_LOCK,
  K_PEER,
  K_RECV_KEY_BYTE,
  K_REMOTE_INDEX,
  K_REPLAY,
  K_SEND_HI,
  K_SEND_KEY_BYTE,
  K_SEND_LO,
  K_SEND_LOCK,
  KP_EXPIRED,
  KP_INITIATOR,
  KP_REKEY_REQUESTED,
  KP_SEND_ALLOWED,
  KP_VALID,
  P_CURRENT,
  P_ENDPOINT_SEQ,
  P_FLAGS,
  P_LOCK,
  P_NEXT,
  P_PREVIOUS,
  P_PROMOTIONS,
  P_RX_BYTES_LO,
  P_RX_DATA,
  P_RX_PACKETS,
  P_TX_BYTES_LO,
  P_TX_DATA,
  P_TX_PACKETS,
  PEER_WANT_HANDSHAKE,
  type SharedTables,
} from "./shared-tables.js";

/** REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1 as (hi, lo): a counter must stay below it. */
const REJECT_HI = 0xffffffff;
const REJECT_LO = 0xffffdfff;
/** REKEY_AFTER_MESSAGES = 2^60: the high word reaches 2^28. */
const REKEY_HI = 2 ** 28;

/**
 * One batch, owned and reused by a worker (the arrays may be views of shared memory).
 * All addresses are byte offsets in the shared buffer the tables live in.
 */
export interface TransportBatch {
  /** Packets in this batch (<= the arrays' length). */
  count: number;
  /** Seal: plaintext address (16 bytes of headroom before it, padding + 16 after). Open: datagram address. */
  data: Uint32Array;
  /** Seal: in plaintext length, out datagram length (0 = no usable keypair). Open: in datagram length, out inner length (0 = dropped or keepalive). */
  lengths: Uint32Array;
  /** Seal: in peer slot. Open: out peer slot of an authenticated packet, -1 when dropped. */
  peers: Int32Array;
  /** Open: address of each datagram's source endpoint record (ENDPOINT_BYTES), 0 = unknown. */
  sources: Uint32Array;
  /** 4-aligned address of room for `count` wasm-crypto descriptors. */
  descPtr: number;
  /** Scratch: descriptor j belongs to packet descPacket[j]. */
  descPacket: Int32Array;
  /** Padding never grows a plaintext beyond this (the tunnel MTU). */
  mtu: number;
}

/** Allocate a batch of `capacity` packets with its descriptor area at `descPtr`. */
export function createTransportBatch(capacity: number, descPtr: number, mtu = 1420): TransportBatch {
  return {
    count: 0,
    data: new Uint32Array(capacity),
    lengths: new Uint32Array(capacity),
    peers: new Int32Array(capacity),
    sources: new Uint32Array(capacity),
    descPtr,
    descPacket: new Int32Array(capacity),
    mtu,
  };
}

function writeDesc(i32: Int32Array, descPtr: number, j: number, keyPtr: number, lo: number, hi: number, data: number, length: number): void {
  const w = (descPtr + j * DESC_SIZE) >> 2;
  i32[w] = keyPtr;
  i32[w + 1] = lo;
  i32[w + 2] = hi;
  i32[w + 3] = data;
  i32[w + 4] = length;
  i32[w + 5] = 0;
}

/** Add n to a (lo, hi) u32 pair of counters; the adder that wraps lo carries into hi. */
function add64(i32: Int32Array, loWord: number, n: number): void {
  const old = Atomics.add(i32, loWord, n) >>> 0;
  if (old + n > 0xffffffff) Atomics.add(i32, loWord + 1, 1);
}

function requestHandshake(t: SharedTables, peer: number): void {
  Atomics.or(t.i32, t.peerWord(peer, P_FLAGS), PEER_WANT_HANDSHAKE);
}

/** Mark packets [from, to) of `b` unsendable and ask the control plane for a handshake. */
function unsendable(t: SharedTables, b: TransportBatch, from: number, to: number, peer: number): void {
  b.lengths.fill(0, from, to);
  requestHandshake(t, peer);
}

/**
 * Prepare the packets of `b` for sealing with their peers' current keypair: reserve a
 * counter each, write the transport header at data-16, zero-pad the plaintext to a
 * multiple of 16 (capped at the MTU) and fill one descriptor per sendable packet.
 * Returns the number of descriptors to pass to `sealBatch`. A packet without a usable
 * keypair gets length 0 and asks the control plane for a handshake (PEER_WANT_HANDSHAKE);
 * so does one that crosses REKEY_AFTER_MESSAGES or, as initiator, REKEY_AFTER_TIME.
 * Consecutive packets to the same peer share one lookup and one counter reservation.
 */
export function prepareSeal(t: SharedTables, b: TransportBatch, now: number): number {
  const { i32, u8, f64 } = t;
  let n = 0;
  for (let i = 0; i < b.count; ) {
    const peer = b.peers[i];
    let end = i + 1;
    while (end < b.count && b.peers[end] === peer) end++;
    const slot = Atomics.load(i32, t.peerWord(peer, P_CURRENT));
    if (slot < 0) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    const fw = t.keypairWord(slot, K_FLAGS);
    const flags = Atomics.load(i32, fw);
    const age = now - f64[t.keypairByte(slot, K_CREATED_BYTE) >> 3];
    if ((flags & (KP_VALID | KP_SEND_ALLOWED | KP_EXPIRED)) !== (KP_VALID | KP_SEND_ALLOWED) || age >= REJECT_AFTER_TIME) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    // Reserve the whole run's counters at once, never reaching REJECT_AFTER_MESSAGES.
    const lockWord = t.keypairWord(slot, K_SEND_LOCK);
    t.lock(lockWord);
    let lo = i32[lockWord - K_SEND_LOCK + K_SEND_LO] >>> 0;
    let hi = i32[lockWord - K_SEND_LOCK + K_SEND_HI] >>> 0;
    const available = hi === REJECT_HI ? Math.max(0, REJECT_LO - lo) : Infinity;
    const take = Math.min(end - i, available);
    const nextLo = lo + take;
    i32[lockWord - K_SEND_LOCK + K_SEND_LO] = nextLo;
    if (nextLo > 0xffffffff) i32[lockWord - K_SEND_LOCK + K_SEND_HI] = hi + 1;
    t.unlock(lockWord);
    const lastHi = take > 0 && lo + take - 1 > 0xffffffff ? hi + 1 : hi; // of the last counter used
    if ((lastHi >= REKEY_HI || ((flags & KP_INITIATOR) !== 0 && age >= REKEY_AFTER_TIME)) && (Atomics.or(i32, fw, KP_REKEY_REQUESTED) & KP_REKEY_REQUESTED) === 0) {
      requestHandshake(t, peer);
    }
    const keyPtr = t.keypairByte(slot, K_SEND_KEY_BYTE);
    const remoteIndex = i32[t.keypairWord(slot, K_REMOTE_INDEX)] >>> 0;
    let bytes = 0;
    let data = 0;
    for (let k = i; k < i + take; k++) {
      const len = b.lengths[k];
      const at = b.data[k];
      const padded = Math.max(len, Math.min((len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), b.mtu));
      u8.fill(0, at + len, at + padded);
      writeTransportHeader(u8, at - TRANSPORT_HEADER_SIZE, remoteIndex, lo, hi);
      writeDesc(i32, b.descPtr, n, keyPtr, lo, hi, at, padded);
      b.descPacket[n++] = k;
      const wire = TRANSPORT_HEADER_SIZE + padded + TAG_SIZE;
      b.lengths[k] = wire;
      bytes += wire;
      if (len > 0) data++;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi++;
    }
    if (take < end - i) unsendable(t, b, i + take, end, peer);
    if (take > 0) {
      add64(i32, t.peerWord(peer, P_TX_BYTES_LO), bytes);
      Atomics.add(i32, t.peerWord(peer, P_TX_PACKETS), take);
      if (data > 0) Atomics.add(i32, t.peerWord(peer, P_TX_DATA), data);
    }
    i = end;
  }
  return n;
}

/**
 * Check the datagrams of `b` (type 4, known receiver index, live keypair, counter below
 * REJECT_AFTER_MESSAGES) and fill one open descriptor per candidate. Returns the number
 * of descriptors to pass to `openBatch`. Nothing is trusted or recorded yet.
 */
export function prepareOpen(t: SharedTables, b: TransportBatch, now: number): number {
  const { i32, u8, f64 } = t;
  let n = 0;
  // Datagrams of a batch mostly carry the same receiver index: judge it once per run.
  let lastIndex = 0;
  let slot = -1;
  for (let i = 0; i < b.count; i++) {
    const d = b.data[i];
    const len = b.lengths[i];
    b.peers[i] = -1;
    if (len < TRANSPORT_MIN_SIZE || readU32(u8, d) !== MESSAGE_TRANSPORT) continue;
    const index = readU32(u8, d + 4);
    if (index !== lastIndex || index === 0) {
      lastIndex = index;
      slot = t.lookupIndex(index);
      if (slot >= 0) {
        const flags = Atomics.load(i32, t.keypairWord(slot, K_FLAGS));
        if ((flags & (KP_VALID | KP_EXPIRED)) !== KP_VALID || now - f64[t.keypairByte(slot, K_CREATED_BYTE) >> 3] >= REJECT_AFTER_TIME) slot = -1;
      }
    }
    if (slot < 0) continue;
    const lo = readU32(u8, d + 8);
    const hi = readU32(u8, d + 12);
    if (hi === REJECT_HI && lo >= REJECT_LO) continue;
    writeDesc(i32, b.descPtr, n, t.keypairByte(slot, K_RECV_KEY_BYTE), lo, hi, d + TRANSPORT_HEADER_SIZE, len - TRANSPORT_HEADER_SIZE);
    b.descPacket[n++] = i;
    b.peers[i] = slot;
  }
  return n;
}

/** Length of the IPv4/IPv6 packet at `off` within `avail` bytes, or 0 when malformed. */
function innerLength(u8: Uint8Array, off: number, avail: number): number {
  if (avail < 1) return 0;
  const v = u8[off] >> 4;
  let len = 0;
  if (v === 4 && avail >= 20) len = (u8[off + 2] << 8) | u8[off + 3];
  else if (v === 6 && avail >= 40) len = 40 + ((u8[off + 4] << 8) | u8[off + 5]);
  return len > 0 && len <= avail ? len : 0;
}

/** The responder's confirmation rule: its first authenticated packet on `next` makes it current. */
function confirmNext(t: SharedTables, peer: number, slot: number): void {
  const lockWord = t.peerWord(peer, P_LOCK);
  t.lock(lockWord);
  if (t.i32[t.peerWord(peer, P_NEXT)] === slot) {
    const old = t.i32[t.peerWord(peer, P_PREVIOUS)];
    if (old >= 0) Atomics.or(t.i32, t.keypairWord(old, K_FLAGS), KP_EXPIRED);
    t.i32[t.peerWord(peer, P_PREVIOUS)] = t.i32[t.peerWord(peer, P_CURRENT)];
    Atomics.or(t.i32, t.keypairWord(slot, K_FLAGS), KP_SEND_ALLOWED);
    Atomics.store(t.i32, t.peerWord(peer, P_CURRENT), slot);
    t.i32[t.peerWord(peer, P_NEXT)] = -1;
    Atomics.add(t.i32, t.peerWord(peer, P_PROMOTIONS), 1);
  }
  t.unlock(lockWord);
}

/**
 * Copy peer `peer`'s current endpoint record (ENDPOINT_BYTES, sockaddr layout) to byte
 * address `dst` of the shared buffer, e.g. into a sendmmsg header; false when the peer has
 * none yet (family 0). Consistent even while a worker or the control plane rewrites it.
 */
export function copyEndpoint(t: SharedTables, peer: number, dst: number): boolean {
  const seq = t.peerWord(peer, P_ENDPOINT_SEQ);
  const src = t.endpointAddress(peer);
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    t.u8.copyWithin(dst, src, src + ENDPOINT_BYTES);
    if (Atomics.load(t.i32, seq) === before) return t.u8[dst] !== 0;
  }
}

/** Roaming: the peer's endpoint becomes the source of its latest authenticated packet. */
function updateEndpoint(t: SharedTables, peer: number, src: number): void {
  const u8 = t.u8;
  const dst = t.endpointAddress(peer);
  let same = true;
  for (let k = 0; k < ENDPOINT_BYTES && same; k++) same = u8[dst + k] === u8[src + k];
  if (same) return;
  const lockWord = t.peerWord(peer, P_LOCK);
  t.lock(lockWord);
  const seq = t.peerWord(peer, P_ENDPOINT_SEQ);
  Atomics.add(t.i32, seq, 1); // odd: being written
  u8.copyWithin(dst, src, src + ENDPOINT_BYTES);
  Atomics.add(t.i32, seq, 1);
  t.unlock(lockWord);
}

/**
 * After `openBatch`: accept each authenticated packet whose counter is new to the
 * replay window, promote a `next` keypair it arrived on, update the peer's endpoint and
 * counters, and check that the inner packet's source address is an allowed IP of that
 * peer (`allowedIps`: an {@link AllowedIps} snapshot). Returns the number of packets
 * to write to the tunnel (lengths[i] > 0).
 */
export function finishOpen(t: SharedTables, b: TransportBatch, n: number, allowedIps: Int32Array): number {
  const { i32, u8 } = t;
  // Pass 1, per run of descriptors on one keypair: check the slot still owns the index,
  // then record the authenticated counters in the replay window under one lock.
  for (let j = 0; j < n; ) {
    const slot = b.peers[b.descPacket[j]];
    let end = j + 1;
    while (end < n && b.peers[b.descPacket[end]] === slot) end++;
    const owned = (i32[t.keypairWord(slot, K_LOCAL_INDEX)] | 0) === (readU32(u8, b.data[b.descPacket[j]] + 4) | 0);
    const lockWord = t.keypairWord(slot, K_LOCK);
    if (owned) t.lock(lockWord);
    for (let k = j; k < end; k++) {
      const status = ((b.descPtr + k * DESC_SIZE) >> 2) + 5;
      const d = b.data[b.descPacket[k]];
      // A replay (or a recycled slot) turns the status back to "failed".
      if (i32[status] === 1 && !(owned && replayAccept(i32, lockWord - K_LOCK + K_REPLAY, readU32(u8, d + 8), readU32(u8, d + 12)))) i32[status] = 0;
    }
    if (owned) t.unlock(lockWord);
    j = end;
  }
  // Pass 2: promotion, roaming, counters, inner packet checks.
  let delivered = 0;
  let runPeer = -1;
  let runBytes = 0;
  let runPackets = 0;
  let runData = 0;
  let runSource = 0;
  let lastSlot = -1;
  // Consecutive IPv4 packets from one inner source: one allowed-IPs lookup.
  let lastV4Source = -1;
  let lastV4Peer = -1;
  for (let j = 0; j < n; j++) {
    const i = b.descPacket[j];
    const slot = b.peers[i];
    const d = b.data[i];
    const len = b.lengths[i];
    b.lengths[i] = 0;
    b.peers[i] = -1;
    if (i32[((b.descPtr + j * DESC_SIZE) >> 2) + 5] !== 1) continue;
    const peer = i32[t.keypairWord(slot, K_PEER)];
    if (peer < 0) continue;
    if (slot !== lastSlot) {
      // Only the first packet of a run can find its keypair still in `next`.
      lastSlot = slot;
      if (Atomics.load(i32, t.peerWord(peer, P_NEXT)) === slot) confirmNext(t, peer, slot);
    }
    if (peer !== runPeer) {
      flushRun(t, runPeer, runBytes, runPackets, runData, runSource);
      runPeer = peer;
      runBytes = runPackets = runData = runSource = 0;
    }
    runBytes += len;
    runPackets++;
    if (b.sources[i] !== 0) runSource = b.sources[i];
    b.peers[i] = peer;
    const plain = len - TRANSPORT_MIN_SIZE;
    if (plain === 0) continue; // keepalive: authenticated, nothing to deliver
    // Counted before the source check, like any data packet that authenticated (timers).
    runData++;
    const at = d + TRANSPORT_HEADER_SIZE;
    const inner = innerLength(u8, at, plain);
    if (inner === 0) {
      b.peers[i] = -1;
      continue;
    }
    let owner: number;
    if (u8[at] >> 4 === 4) {
      const src = readU32(u8, at + 12);
      if (src !== lastV4Source) {
        lastV4Source = src;
        lastV4Peer = lookupPacket(allowedIps, u8, at, inner, "source");
      }
      owner = lastV4Peer;
    } else owner = lookupPacket(allowedIps, u8, at, inner, "source");
    if (owner !== peer) {
      b.peers[i] = -1;
      continue;
    }
    b.lengths[i] = inner;
    delivered++;
  }
  flushRun(t, runPeer, runBytes, runPackets, runData, runSource);
  return delivered;
}

/** Counters of a run of packets from one peer; its endpoint becomes the run's latest source. */
function flushRun(t: SharedTables, peer: number, bytes: number, packets: number, data: number, source: number): void {
  if (peer < 0 || packets === 0) return;
  if (source !== 0) updateEndpoint(t, peer, source);
  add64(t.i32, t.peerWord(peer, P_RX_BYTES_LO), bytes);
  Atomics.add(t.i32, t.peerWord(peer, P_RX_PACKETS), packets);
  if (data > 0) Atomics.add(t.i32, t.peerWord(peer, P_RX_DATA), data);
}
