/**
 * The control plane's view of what the data-plane workers did since the last tick: they
 * only bump counters and flags in the shared peer slot, and this turns the changes into
 * the timer events of whitepaper §6 (data sent/received, any authenticated packet
 * sent/received), keypair reconciliation after a worker's promotion of `next`, roaming,
 * and handshakes the workers asked for. Event times are the tick's `now`, so the data
 * plane ticks at least every POLL_INTERVAL.
 * @module
 */
import { KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_TIMEOUT } from "../protocol/constants.js";
import { keypairCreatedAt, keypairFlags, KP_INITIATOR } from "../tables/keypair-slot.js";
import { newCounters, type PeerCounters, readCounters, readEndpoint, takeHandshakeRequest } from "../tables/peer-slot.js";
import type { DeviceAction } from "./actions.js";
import type { Peer } from "./peer.js";
import { sendInitiation } from "./session.js";
import type { DeviceState } from "./state.js";

/** Scratch for one poll, reused: the control plane is one thread. */
const now_: PeerCounters = newCounters();

/**
 * Poll one peer's shared counters and flags; actions (initiations) are appended. With
 * `mayInitiate` false, a handshake the workers asked for is left asked (the next poll
 * takes it): the tick has started as many handshakes as it may.
 */
export function pollPeer(d: DeviceState, peer: Peer, now: number, actions: DeviceAction[], mayInitiate = true): void {
  const seen = peer.polled;
  const c = readCounters(d.tables, peer.slot, now_);
  // Received before sent: a reply we sent after receiving must stop the keepalive timer.
  if (c.rxPackets !== seen.rxPackets) {
    peer.timers.anyAuthenticatedPacketReceived();
    peer.timers.anyAuthenticatedPacketTraversal(now);
    if (mayInitiate) rekeyOnReceive(d, peer, now, actions);
  }
  if (c.rxData !== seen.rxData) peer.timers.dataReceived(now);
  if (c.txData !== seen.txData) peer.timers.dataSent(now);
  if (c.txPackets !== seen.txPackets) {
    peer.timers.anyAuthenticatedPacketSent();
    peer.timers.anyAuthenticatedPacketTraversal(now);
  }
  seen.rxPackets = c.rxPackets;
  seen.rxData = c.rxData;
  seen.txPackets = c.txPackets;
  seen.txData = c.txData;
  if (c.promotions !== seen.promotions) {
    seen.promotions = c.promotions;
    d.keypairs.reconcile(peer.slot, peer.ownedSlots, now);
  }
  if (c.endpointSeq !== seen.endpointSeq) pollEndpoint(d, peer);
  if (mayInitiate && takeHandshakeRequest(d.tables, peer.slot)) actions.push(...sendInitiation(d, peer, now, false));
}

/** The initiator renews a keypair about to reach REJECT_AFTER_TIME while the peer still talks. */
function rekeyOnReceive(d: DeviceState, peer: Peer, now: number, actions: DeviceAction[]): void {
  const [current] = d.keypairs.slotsOf(peer.slot);
  if (current < 0 || (keypairFlags(d.tables, current) & KP_INITIATOR) === 0) return;
  const age = now - keypairCreatedAt(d.tables, current);
  if (age >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT && !peer.initiation) actions.push(...sendInitiation(d, peer, now, false));
}

/** Take the endpoint record a worker wrote (roaming). */
export function pollEndpoint(d: DeviceState, peer: Peer): void {
  const { record, seq } = readEndpoint(d.tables, peer.slot);
  peer.endpoint = record;
  peer.polled.endpointSeq = seq;
}
