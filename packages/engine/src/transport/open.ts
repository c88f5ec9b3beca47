/**
 * Receiving transport data (whitepaper §5.4.6), the worker's side, per batch: see
 * batch.ts for the whole path.
 * @module
 */
import {
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_TRANSPORT,
  REJECT_AFTER_TIME,
  TAG_SIZE,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
} from "../protocol/constants.js";
import { readU32 } from "../protocol/messages.js";
import { lookupPacket } from "../tables/allowed-ips.js";
import {
  acceptCounter,
  addKeypairFlags,
  keypairCreatedAt,
  keypairFlags,
  keypairPeer,
  KP_EXPIRED,
  KP_SEND_ALLOWED,
  KP_VALID,
  localIndex,
  lockReplay,
  receiveKeyAddress,
  REJECT_HI,
  REJECT_LO,
  unlockReplay,
} from "../tables/keypair-slot.js";
import {
  countPromotion,
  countReceived,
  CURRENT,
  keypairOf,
  lockPeer,
  NEXT,
  PREVIOUS,
  roamEndpoint,
  setKeypairOf,
  unlockPeer,
} from "../tables/peer-slot.js";
import { lookupIndex } from "../tables/receiver-index.js";
import type { SharedTables } from "../tables/shared-tables.js";
import { descriptorLength, descriptorOk, failDescriptor, writeDescriptor } from "../protocol/aead.js";
import { RX_DROP, type TransportBatch } from "./batch.js";

/** Whether the datagram of `len` bytes at `d` is a handshake message (type 1-3), which is the control plane's. */
export function isHandshakeMessage(u8: Uint8Array, d: number, len: number): boolean {
  if (len < 4) return false;
  const type = readU32(u8, d);
  return type >= MESSAGE_INITIATION && type <= MESSAGE_COOKIE_REPLY;
}

/**
 * Check the datagrams of `b` (type 4, known receiver index, live keypair, counter below
 * REJECT_AFTER_MESSAGES) and fill one open descriptor per candidate. Returns the number
 * of descriptors to pass to `openBatch`. Nothing is trusted or recorded yet.
 *
 * Fails closed: every slot leaves with length 0 and peer -1; only {@link finishOpen} gives
 * a length back, to a packet that passed every check. Each datagram rejected here is
 * counted in `b.drops` by reason; handshake messages are skipped uncounted.
 */
export function prepareOpen(t: SharedTables, b: TransportBatch, now: number): number {
  const { i32, u8 } = t;
  const drops = b.drops;
  let n = 0;
  // Datagrams of a batch mostly carry the same receiver index: judge it once per run.
  let lastIndex = 0;
  let slot = -1;
  for (let i = 0; i < b.count; i++) {
    const d = b.data[i];
    const len = b.lengths[i];
    b.lengths[i] = 0;
    b.peers[i] = -1;
    if (len < 4) {
      drops[RX_DROP.droppedShort]++;
      continue;
    }
    const type = readU32(u8, d);
    if (type !== MESSAGE_TRANSPORT) {
      if (type < MESSAGE_INITIATION || type > MESSAGE_COOKIE_REPLY) drops[RX_DROP.droppedType]++;
      continue;
    }
    if (len < TRANSPORT_MIN_SIZE) {
      drops[RX_DROP.droppedShort]++;
      continue;
    }
    const index = readU32(u8, d + 4);
    if (index !== lastIndex || index === 0) {
      lastIndex = index;
      slot = lookupIndex(t, index);
      if (slot >= 0 && ((keypairFlags(t, slot) & (KP_VALID | KP_EXPIRED)) !== KP_VALID || now - keypairCreatedAt(t, slot) >= REJECT_AFTER_TIME)) slot = -1;
    }
    if (slot < 0) {
      drops[RX_DROP.droppedNoKeypair]++;
      continue;
    }
    const lo = readU32(u8, d + 8);
    const hi = readU32(u8, d + 12);
    if (hi === REJECT_HI && lo >= REJECT_LO) {
      drops[RX_DROP.droppedCounterLimit]++;
      continue;
    }
    writeDescriptor(i32, b.descPtr, n, receiveKeyAddress(t, slot), lo, hi, d + TRANSPORT_HEADER_SIZE, len - TRANSPORT_HEADER_SIZE);
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
  lockPeer(t, peer);
  if (keypairOf(t, peer, NEXT) === slot) {
    const old = keypairOf(t, peer, PREVIOUS);
    if (old >= 0) addKeypairFlags(t, old, KP_EXPIRED);
    setKeypairOf(t, peer, PREVIOUS, keypairOf(t, peer, CURRENT));
    addKeypairFlags(t, slot, KP_SEND_ALLOWED);
    setKeypairOf(t, peer, CURRENT, slot);
    setKeypairOf(t, peer, NEXT, -1);
    countPromotion(t, peer);
  }
  unlockPeer(t, peer);
}

/**
 * After `openBatch`: accept each authenticated packet whose counter is new to the
 * replay window, promote a `next` keypair it arrived on, update the peer's endpoint and
 * counters, and check that the inner packet is well-formed and its source address is an
 * allowed IP of that peer (`allowedIps`: an {@link AllowedIps} snapshot); the endpoint
 * becomes the latest authentic packet's source and the local address where it arrived
 * (`b.locals`). Returns the
 * number of packets to write to the tunnel: exactly the slots left with lengths[i] > 0
 * (inner packet at data[i] + 16) and peers[i] >= 0. A keepalive authenticates (it counts
 * for roaming and timers) but delivers nothing; every other failure is counted in `b.drops`.
 */
export function finishOpen(t: SharedTables, b: TransportBatch, n: number, allowedIps: Int32Array): number {
  const { i32, u8 } = t;
  const drops = b.drops;
  // Pass 1, per run of descriptors on one keypair: check the slot still owns the index,
  // then record the authenticated counters in the replay window under one lock.
  for (let j = 0; j < n; ) {
    const slot = b.peers[b.descPacket[j]];
    let end = j + 1;
    while (end < n && b.peers[b.descPacket[end]] === slot) end++;
    const owned = localIndex(t, slot) === readU32(u8, b.data[b.descPacket[j]] + 4);
    if (owned) lockReplay(t, slot);
    for (let k = j; k < end; k++) {
      const d = b.data[b.descPacket[k]];
      if (!descriptorOk(i32, b.descPtr, k)) drops[RX_DROP.droppedAuth]++;
      else if (!owned) {
        // The keypair was retired and its slot reused while the batch was being opened.
        failDescriptor(i32, b.descPtr, k);
        drops[RX_DROP.droppedNoKeypair]++;
      } else if (!acceptCounter(t, slot, readU32(u8, d + 8), readU32(u8, d + 12))) {
        failDescriptor(i32, b.descPtr, k);
        drops[RX_DROP.droppedReplay]++;
      }
    }
    if (owned) unlockReplay(t, slot);
    j = end;
  }
  // Pass 2: promotion, roaming, counters, inner packet checks.
  let delivered = 0;
  let runPeer = -1;
  let runBytes = 0;
  let runPackets = 0;
  let runData = 0;
  let runSource = 0;
  let runLocal = 0;
  let lastSlot = -1;
  // Consecutive IPv4 packets from one inner source: one allowed-IPs lookup.
  let lastV4Source = -1;
  let lastV4Peer = -1;
  for (let j = 0; j < n; j++) {
    const i = b.descPacket[j];
    const slot = b.peers[i];
    const d = b.data[i];
    b.peers[i] = -1;
    if (!descriptorOk(i32, b.descPtr, j)) continue;
    const peer = keypairPeer(t, slot);
    if (peer < 0) {
      drops[RX_DROP.droppedNoKeypair]++;
      continue;
    }
    if (slot !== lastSlot) {
      // Only the first packet of a run can find its keypair still in `next`.
      lastSlot = slot;
      if (keypairOf(t, peer, NEXT) === slot) confirmNext(t, peer, slot);
    }
    if (peer !== runPeer) {
      flushRun(t, runPeer, runBytes, runPackets, runData, runSource, runLocal);
      runPeer = peer;
      runBytes = runPackets = runData = runSource = runLocal = 0;
    }
    const plain = descriptorLength(i32, b.descPtr, j) - TAG_SIZE;
    runBytes += plain + TRANSPORT_MIN_SIZE;
    runPackets++;
    if (b.sources[i] !== 0) {
      runSource = b.sources[i];
      runLocal = b.locals[i];
    }
    if (plain === 0) {
      drops[RX_DROP.keepalivesReceived]++;
      continue;
    }
    // Counted before the inner checks, like any data packet that authenticated (timers).
    runData++;
    const at = d + TRANSPORT_HEADER_SIZE;
    const inner = innerLength(u8, at, plain);
    if (inner === 0) {
      drops[RX_DROP.droppedMalformed]++;
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
      drops[RX_DROP.droppedSource]++;
      continue;
    }
    b.peers[i] = peer;
    b.lengths[i] = inner;
    delivered++;
  }
  flushRun(t, runPeer, runBytes, runPackets, runData, runSource, runLocal);
  return delivered;
}

/**
 * Counters of a run of packets from one peer; its endpoint becomes the run's latest source,
 * and its local address where that packet arrived (the sticky source of what we send it).
 */
function flushRun(t: SharedTables, peer: number, bytes: number, packets: number, data: number, source: number, local: number): void {
  if (peer < 0 || packets === 0) return;
  if (source !== 0) roamEndpoint(t, peer, source, local);
  countReceived(t, peer, packets, data, bytes);
}
