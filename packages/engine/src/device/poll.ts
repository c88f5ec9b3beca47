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
import type { Device, DeviceAction } from "./device.js";
import type { Peer } from "./peer.js";
import {
  ENDPOINT_BYTES,
  K_CREATED_BYTE,
  K_FLAGS,
  KP_INITIATOR,
  P_ENDPOINT_SEQ,
  P_FLAGS,
  P_PROMOTIONS,
  P_RX_DATA,
  P_RX_PACKETS,
  P_TX_DATA,
  P_TX_PACKETS,
  PEER_WANT_HANDSHAKE,
} from "../tables/shared-tables.js";

/** Poll one peer's shared counters and flags; actions (initiations) are appended. */
export function pollPeer(d: Device, peer: Peer, now: number, actions: DeviceAction[]): void {
  const t = d.tables;
  const w = (f: number) => t.peerWord(peer.slot, f);
  const seen = peer.polled;
  const rxPackets = Atomics.load(t.i32, w(P_RX_PACKETS));
  const rxData = Atomics.load(t.i32, w(P_RX_DATA));
  const txPackets = Atomics.load(t.i32, w(P_TX_PACKETS));
  const txData = Atomics.load(t.i32, w(P_TX_DATA));
  // Received before sent: a reply we sent after receiving must stop the keepalive timer.
  if (rxPackets !== seen.rxPackets) {
    peer.timers.anyAuthenticatedPacketReceived();
    peer.timers.anyAuthenticatedPacketTraversal(now);
    rekeyOnReceive(d, peer, now, actions);
  }
  if (rxData !== seen.rxData) peer.timers.dataReceived(now);
  if (txData !== seen.txData) peer.timers.dataSent(now);
  if (txPackets !== seen.txPackets) {
    peer.timers.anyAuthenticatedPacketSent();
    peer.timers.anyAuthenticatedPacketTraversal(now);
  }
  Object.assign(seen, { rxPackets, rxData, txPackets, txData });
  const promotions = Atomics.load(t.i32, w(P_PROMOTIONS));
  if (promotions !== seen.promotions) {
    seen.promotions = promotions;
    d.keypairs.reconcile(peer.slot, peer.ownedSlots, now);
  }
  if (Atomics.load(t.i32, w(P_ENDPOINT_SEQ)) !== seen.endpointSeq) readEndpoint(d, peer);
  if (Atomics.and(t.i32, w(P_FLAGS), ~PEER_WANT_HANDSHAKE) & PEER_WANT_HANDSHAKE) actions.push(...d.sendInitiation(peer, now, false));
}

/** The initiator renews a keypair about to reach REJECT_AFTER_TIME while the peer still talks. */
function rekeyOnReceive(d: Device, peer: Peer, now: number, actions: DeviceAction[]): void {
  const t = d.tables;
  const [current] = d.keypairs.slotsOf(peer.slot);
  if (current < 0 || (t.i32[t.keypairWord(current, K_FLAGS)] & KP_INITIATOR) === 0) return;
  const age = now - t.f64[t.keypairByte(current, K_CREATED_BYTE) >> 3];
  if (age >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT && !peer.initiation) actions.push(...d.sendInitiation(peer, now, false));
}

/** Copy the endpoint record a worker wrote (seqlock: retry while it changes). */
export function readEndpoint(d: Device, peer: Peer): void {
  const t = d.tables;
  const seq = t.peerWord(peer.slot, P_ENDPOINT_SEQ);
  const at = t.endpointAddress(peer.slot);
  for (;;) {
    const before = Atomics.load(t.i32, seq);
    if (before & 1) continue;
    const copy = t.u8.slice(at, at + ENDPOINT_BYTES);
    if (Atomics.load(t.i32, seq) === before) {
      peer.endpoint = copy;
      peer.polled.endpointSeq = before;
      return;
    }
  }
}
