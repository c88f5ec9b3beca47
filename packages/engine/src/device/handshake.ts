/**
 * Receiving handshake messages (whitepaper §5.3, §5.4): the order of checks is the
 * DoS defence. Size and type first, then MAC1 (one BLAKE2s, no DH), then, only when the
 * device is under load, MAC2 (answering with a cookie reply instead of doing any DH) and
 * the per-source rate limit; only then the Noise processing, the TAI64N replay check and
 * the flood guard of the peer.
 * @module
 */
import { COOKIE_REPLY_SIZE, HANDSHAKE_INITIATION_MIN_INTERVAL, INITIATION_SIZE, MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE, RESPONSE_SIZE } from "../protocol/constants.js";
import type { DeviceAction } from "./actions.js";
import { dropInitiation, forgetPendingIndex, sendInitiation, sendKeepalive, setEndpoint } from "./session.js";
import { noteHandshakes } from "./load.js";
import { type DeviceState, keyId } from "./state.js";
import { keypairPeer } from "../tables/keypair-slot.js";
import { lookupIndex } from "../tables/receiver-index.js";
import { allowSource, type EndpointRecord } from "../tables/endpoint.js";
import { HandshakeError } from "../protocol/errors.js";
import { decodeCookieReply, messageType, readU32 } from "../protocol/messages.js";
import { consumeInitiation, consumeResponse, createResponse, responseIndices } from "../protocol/noise.js";
import { tai64nAfter } from "../protocol/tai64n.js";

const SIZES: Record<number, number> = { [MESSAGE_INITIATION]: INITIATION_SIZE, [MESSAGE_RESPONSE]: RESPONSE_SIZE, [MESSAGE_COOKIE_REPLY]: COOKIE_REPLY_SIZE };

/** Process one handshake datagram for `d`. Throws HandshakeError. */
export function handleHandshake(d: DeviceState, bytes: Uint8Array, endpoint: EndpointRecord, now: number): DeviceAction[] {
  const type = messageType(bytes);
  if (type === 0 || !(type in SIZES)) throw new HandshakeError("bad-type");
  if (bytes.length !== SIZES[type]) throw new HandshakeError("bad-size");
  if (type === MESSAGE_COOKIE_REPLY) return onCookieReply(d, bytes, now);
  if (!d.identity || !d.checker) throw new HandshakeError("no-private-key");
  if (!d.checker.checkMac1(bytes)) throw new HandshakeError("bad-mac1");
  if (noteHandshakes(d, now, 1)) {
    if (!d.checker.checkMac2(bytes, endpoint, now)) {
      const reply = d.checker.createReply(bytes, readU32(bytes, 4), endpoint, now);
      return [{ type: "send", peer: -1, endpoint, bytes: reply, message: "cookie-reply" }];
    }
    if (!allowSource(d.limiter, endpoint, 0, now)) throw new HandshakeError("flood", "handshake rate limit of this source");
  }
  return type === MESSAGE_INITIATION ? onInitiation(d, bytes, endpoint, now) : onResponse(d, bytes, endpoint, now);
}

function onInitiation(d: DeviceState, bytes: Uint8Array, endpoint: EndpointRecord, now: number): DeviceAction[] {
  const identity = d.identity!;
  const consumed = consumeInitiation(identity, bytes, (pub) => d.peersByKey.get(keyId(pub))?.secrets);
  const peer = d.peersByKey.get(keyId(consumed.remoteStatic))!;
  if (peer.lastTimestamp && !tai64nAfter(consumed.timestamp, peer.lastTimestamp)) {
    throw new HandshakeError("replayed-timestamp", "initiation timestamp not newer than the last one");
  }
  if (now - peer.lastInitiationConsumed < HANDSHAKE_INITIATION_MIN_INTERVAL) throw new HandshakeError("flood", "initiations from this peer too frequent");
  peer.lastTimestamp = consumed.timestamp;
  peer.lastInitiationConsumed = now;
  // Answering supersedes our own pending initiation (simultaneous initiation).
  dropInitiation(d, peer);
  const localIndex = d.indices.fresh();
  const { message, keys } = createResponse(consumed.state, peer.secrets, localIndex);
  peer.cookies.addMacs(message, now);
  peer.ownedSlots.add(d.keypairs.install(peer.slot, keys, localIndex, consumed.state.remoteIndex, false, now));
  peer.lastHandshakeWall = d.clock.wallTime();
  setEndpoint(d, peer, endpoint);
  const timers = peer.timers;
  timers.anyAuthenticatedPacketReceived();
  timers.anyAuthenticatedPacketTraversal(now);
  timers.sessionDerived(now);
  timers.anyAuthenticatedPacketSent();
  return [
    { type: "send", peer: peer.slot, endpoint, bytes: message, message: "response" },
    { type: "keypair", peer: peer.slot, role: "responder" },
  ];
}

function onResponse(d: DeviceState, bytes: Uint8Array, endpoint: EndpointRecord, now: number): DeviceAction[] {
  const { senderIndex, receiverIndex } = responseIndices(bytes);
  const peer = d.indices.get(receiverIndex);
  if (!peer || !peer.initiation || peer.initiation.localIndex !== receiverIndex) throw new HandshakeError("unknown-index", "response to no initiation of ours");
  const keys = consumeResponse(peer.initiation, d.identity!, peer.secrets, bytes);
  // Before the keypair takes the same index: one entry per index in the shared lookup.
  forgetPendingIndex(d, receiverIndex);
  peer.initiation = null;
  peer.ownedSlots.add(d.keypairs.install(peer.slot, keys, receiverIndex, senderIndex, true, now));
  peer.lastHandshakeWall = d.clock.wallTime();
  setEndpoint(d, peer, endpoint);
  const timers = peer.timers;
  timers.handshakeComplete();
  timers.sessionDerived(now);
  timers.anyAuthenticatedPacketReceived();
  timers.anyAuthenticatedPacketTraversal(now);
  // The responder may only send once it has seen us use the keypair: confirm at once.
  return [{ type: "keypair", peer: peer.slot, role: "initiator" }, ...sendKeepalive(d, peer, now)];
}

function onCookieReply(d: DeviceState, bytes: Uint8Array, now: number): DeviceAction[] {
  const index = decodeCookieReply(bytes).receiverIndex;
  let peer = d.indices.get(index);
  if (!peer) {
    // A reply to a response of ours names the index of the keypair that response created.
    const slot = lookupIndex(d.tables, index);
    if (slot >= 0) peer = d.peersBySlot.get(keypairPeer(d.tables, slot));
  }
  if (!peer) throw new HandshakeError("unknown-index", "cookie reply for no message of ours");
  const hadCookie = peer.cookies.hasCookie(now);
  peer.cookies.consumeReply(bytes, now);
  // The responder is under load and did no DH: send the initiation again now, with MAC2,
  // rather than at the retransmit REKEY_TIMEOUT later. Only when the one answered had no
  // cookie, so a responder that keeps answering with cookies cannot drive a loop.
  if (!hadCookie && peer.initiation?.localIndex === index) return sendInitiation(d, peer, now, true);
  return [];
}
