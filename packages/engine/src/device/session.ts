/**
 * What the control plane does to a peer's sessions (whitepaper §5.4, §6): start a
 * handshake, send a keepalive through the transport path, record where the peer is, and
 * drop every session at once.
 * @module
 */
import { REKEY_TIMEOUT, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { createInitiation } from "../protocol/noise.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import { endpointSequence, newCounters, readCounters, takeHandshakeRequest, writeEndpoint, type PeerCounters } from "../tables/peer-slot.js";
import { insertIndex, PENDING_INDEX, removeIndex } from "../tables/receiver-index.js";
import { prepareSeal } from "../transport/seal.js";
import type { DeviceAction } from "./actions.js";
import type { Peer } from "./peer.js";
import type { DeviceState } from "./state.js";

/** Room for one packet the device seals itself (keepalives, test data). */
export const DEVICE_PACKET_BYTES = 2048;
const counters: PeerCounters = newCounters();

/** Send (or, rate-limited, skip) an initiation to `peer`; `retry` for a retransmission. */
export function sendInitiation(s: DeviceState, peer: Peer, now: number, retry: boolean): DeviceAction[] {
  if (!s.identity || !peer.endpoint) return [];
  // A fresh attempt waits while a series is under way: its jittered retransmit will
  // come, and that jitter is what separates two peers initiating at the same moment.
  if (!retry && (now - peer.lastInitiationSent < REKEY_TIMEOUT || peer.timers.retransmitAt !== Infinity)) return [];
  dropInitiation(s, peer);
  const localIndex = s.indices.allocate(peer);
  // Workers give the answer to this index precedence over a flood (datapath's handshake guard).
  insertIndex(s.tables, localIndex, PENDING_INDEX);
  const { message, state } = createInitiation(s.identity, peer.secrets, localIndex, s.clock.wallTime());
  peer.cookies.addMacs(message, now);
  peer.initiation = state;
  peer.lastInitiationSent = now;
  peer.timers.anyAuthenticatedPacketTraversal(now);
  peer.timers.anyAuthenticatedPacketSent();
  peer.timers.handshakeInitiated(now, retry);
  return [{ type: "send", peer: peer.slot, endpoint: peer.endpoint, bytes: message, message: "initiation" }];
}

/** Forget our pending initiation to `peer`, zeroing its secrets. */
export function dropInitiation(s: DeviceState, peer: Peer): void {
  if (!peer.initiation) return;
  forgetPendingIndex(s, peer.initiation.localIndex);
  peer.initiation.ephemeralPrivate.fill(0);
  peer.initiation.chainingKey.fill(0);
  peer.initiation = null;
}

/** The index of a pending initiation is no longer one: its response came, or it was dropped. */
export function forgetPendingIndex(s: DeviceState, index: number): void {
  s.indices.delete(index);
  removeIndex(s.tables, index);
}

/**
 * Seal `payload` for peer `slot` through the transport path, exactly as a worker would:
 * a type-4 datagram, or null without a usable keypair.
 */
export function encodeTransport(s: DeviceState, slot: number, payload: Uint8Array, now: number): Uint8Array | null {
  const b = s.batch;
  if (payload.length > DEVICE_PACKET_BYTES - 32) throw new RangeError(`payload of ${payload.length} bytes is larger than the device's own buffer`);
  s.tables.u8.set(payload, b.data[0]);
  b.count = 1;
  b.peers[0] = slot;
  b.lengths[0] = payload.length;
  if (prepareSeal(s.tables, b, now) === 0) return null;
  s.aead.sealBatch(b.descPtr, 1);
  const start = b.data[0] - TRANSPORT_HEADER_SIZE;
  return s.tables.u8.slice(start, start + b.lengths[0]);
}

/** A keepalive through the transport path, or a handshake when there is no keypair. */
export function sendKeepalive(s: DeviceState, peer: Peer, now: number): DeviceAction[] {
  const bytes = encodeTransport(s, peer.slot, new Uint8Array(0), now);
  if (!bytes) {
    takeHandshakeRequest(s.tables, peer.slot); // answered here
    return sendInitiation(s, peer, now, false);
  }
  // Our own keepalive is not the data plane's traffic: the next poll must not see it as such.
  peer.polled.txPackets = readCounters(s.tables, peer.slot, counters).txPackets;
  peer.timers.anyAuthenticatedPacketSent();
  peer.timers.anyAuthenticatedPacketTraversal(now);
  return peer.endpoint ? [{ type: "send", peer: peer.slot, endpoint: peer.endpoint, bytes, message: "keepalive" }] : [];
}

/** Record `endpoint` as where `peer` is, for us and for the workers. */
export function setEndpoint(s: DeviceState, peer: Peer, endpoint: EndpointRecord): void {
  peer.endpoint = writeEndpoint(s.tables, peer.slot, endpoint);
  peer.polled.endpointSeq = endpointSequence(s.tables, peer.slot);
}

/** Retire every keypair and the pending handshake of `peer`. */
export function resetSessions(s: DeviceState, peer: Peer, now: number): void {
  dropInitiation(s, peer);
  s.keypairs.retireAll(peer.slot, now);
  peer.ownedSlots.clear();
  peer.timers.zeroKeysAt = Infinity;
}
