/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard runs it (whitepaper §5.4): create
 * and consume the handshake initiation and response, then split the chaining key into
 * the two transport keys. Pure functions over byte arrays; MAC1/MAC2 are added and
 * checked by the cookie layer, timestamps and indices are judged by the device.
 *
 * Every temporary key and, after the split, the chaining key, is zeroed once used.
 * @module
 */
import { seal, open } from "./aead.js";
import { CONSTRUCTION, IDENTIFIER, KEY_SIZE, TIMESTAMP_SIZE } from "./constants.js";
import { dh, generatePrivateKey, publicKeyOf, zeroKeys } from "./dh.js";
import { HandshakeError } from "./errors.js";
import { EMPTY, hash, kdf1, kdf2, kdf3 } from "./kdf.js";
import { decodeInitiation, decodeResponse, encodeInitiation, encodeResponse } from "./messages.js";
import { tai64n } from "./tai64n.js";

const text = new TextEncoder();
/** C0 = HASH(CONSTRUCTION), H0 = HASH(C0 || IDENTIFIER): the same for every handshake. */
const INITIAL_CHAIN_KEY = hash(text.encode(CONSTRUCTION));
const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, text.encode(IDENTIFIER));
const ZERO_NONCE = new Uint8Array(12);
const ZERO_MAC = new Uint8Array(16);

/** Our own static identity. */
export interface StaticIdentity {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** What the handshake needs to know about a peer. */
export interface PeerSecrets {
  /** The peer's static public key. */
  remoteStatic: Uint8Array;
  /** 32 bytes; all zero when no preshared key is configured. */
  presharedKey: Uint8Array;
  /** DH(our static private, peer static public), computed once per configuration. */
  staticStatic: Uint8Array;
}

/** State kept between sending an initiation and consuming its response. */
export interface InitiatorState {
  localIndex: number;
  chainingKey: Uint8Array;
  hash: Uint8Array;
  ephemeralPrivate: Uint8Array;
}

/** State kept between consuming an initiation and creating its response. */
export interface ResponderState {
  remoteIndex: number;
  chainingKey: Uint8Array;
  hash: Uint8Array;
  remoteEphemeral: Uint8Array;
}

/** The two keys of a new session, from our point of view. */
export interface TransportKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

/** A consumed initiation: who sent it, its timestamp, and the state to respond with. */
export interface ConsumedInitiation {
  remoteStatic: Uint8Array;
  timestamp: Uint8Array;
  state: ResponderState;
}

/** H = HASH(H0 || S_r^pub): the hash both sides start from, keyed on the responder. */
function initialHash(responderStatic: Uint8Array): Uint8Array {
  return hash(INITIAL_HASH, responderStatic);
}


/**
 * Create an initiation to `peer` (mac1/mac2 left zero for the cookie layer).
 * `wallMs` is wall-clock time for the TAI64N timestamp. `ephemeralPrivate` is drawn fresh
 * unless given (only test vectors give it).
 */
export function createInitiation(
  local: StaticIdentity,
  peer: PeerSecrets,
  localIndex: number,
  wallMs: number,
  ephemeralPrivate = generatePrivateKey(),
): { message: Uint8Array; state: InitiatorState } {
  const ephemeral = publicKeyOf(ephemeralPrivate);
  let c = kdf1(INITIAL_CHAIN_KEY, ephemeral);
  let h = hash(initialHash(peer.remoteStatic), ephemeral);
  let [c2, k] = kdf2(c, dh(ephemeralPrivate, peer.remoteStatic));
  zeroKeys(c);
  const encryptedStatic = seal(k, ZERO_NONCE, local.publicKey, h);
  zeroKeys(k);
  h = hash(h, encryptedStatic);
  [c, k] = kdf2(c2, peer.staticStatic);
  zeroKeys(c2);
  const encryptedTimestamp = seal(k, ZERO_NONCE, tai64n(wallMs), h);
  zeroKeys(k);
  h = hash(h, encryptedTimestamp);
  const message = encodeInitiation({ senderIndex: localIndex, ephemeral, encryptedStatic, encryptedTimestamp, mac1: ZERO_MAC, mac2: ZERO_MAC });
  return { message, state: { localIndex, chainingKey: c, hash: h, ephemeralPrivate } };
}

/**
 * Consume an initiation addressed to `local` (MAC1 must already be verified). The peer is
 * found by its decrypted static key through `lookup`. Throws HandshakeError.
 */
export function consumeInitiation(local: StaticIdentity, bytes: Uint8Array, lookup: (remoteStatic: Uint8Array) => PeerSecrets | undefined): ConsumedInitiation {
  const m = decodeInitiation(bytes);
  const remoteEphemeral = m.ephemeral.slice();
  let c = kdf1(INITIAL_CHAIN_KEY, remoteEphemeral);
  let h = hash(initialHash(local.publicKey), remoteEphemeral);
  let [c2, k] = kdf2(c, dh(local.privateKey, remoteEphemeral));
  zeroKeys(c);
  const remoteStatic = open(k, ZERO_NONCE, m.encryptedStatic, h);
  zeroKeys(k);
  if (!remoteStatic) throw new HandshakeError("decrypt-failed", "initiation static key does not authenticate");
  const peer = lookup(remoteStatic);
  if (!peer) throw new HandshakeError("unknown-peer", "initiation from an unknown static key");
  h = hash(h, m.encryptedStatic);
  [c, k] = kdf2(c2, peer.staticStatic);
  zeroKeys(c2);
  const timestamp = open(k, ZERO_NONCE, m.encryptedTimestamp, h);
  zeroKeys(k);
  if (!timestamp || timestamp.length !== TIMESTAMP_SIZE) throw new HandshakeError("decrypt-failed", "initiation timestamp does not authenticate");
  h = hash(h, m.encryptedTimestamp);
  return { remoteStatic, timestamp, state: { remoteIndex: m.senderIndex, chainingKey: c, hash: h, remoteEphemeral } };
}

/**
 * The shared tail of both sides after the ephemeral key of the response is known:
 * mix in the ephemeral-ephemeral and ephemeral-static DH results and the PSK, then
 * check or produce the empty AEAD. Returns the final chaining key and the AEAD key.
 */
function mixResponse(c: Uint8Array, h: Uint8Array, ee: Uint8Array, es: Uint8Array, psk: Uint8Array): { c: Uint8Array; h: Uint8Array; k: Uint8Array } {
  const c1 = kdf1(c, ee);
  const c2 = kdf1(c1, es);
  const [c3, tau, k] = kdf3(c2, psk);
  zeroKeys(c1, c2, ee, es);
  const h2 = hash(h, tau);
  zeroKeys(tau);
  return { c: c3, h: h2, k };
}

/** Split the final chaining key into (initiator->responder, responder->initiator) keys and zero it. */
function split(c: Uint8Array): [Uint8Array, Uint8Array] {
  const [t1, t2] = kdf2(c, EMPTY);
  zeroKeys(c);
  return [t1, t2];
}

/**
 * Create the response to a consumed initiation; returns the message and our transport
 * keys. `ephemeralPrivate` is drawn fresh unless given (test vectors), and zeroed.
 */
export function createResponse(
  state: ResponderState,
  peer: PeerSecrets,
  localIndex: number,
  ephemeralPrivate = generatePrivateKey(),
): { message: Uint8Array; keys: TransportKeys } {
  const ephemeral = publicKeyOf(ephemeralPrivate);
  const c = kdf1(state.chainingKey, ephemeral);
  zeroKeys(state.chainingKey);
  const h = hash(state.hash, ephemeral);
  const ee = dh(ephemeralPrivate, state.remoteEphemeral);
  const es = dh(ephemeralPrivate, peer.remoteStatic);
  zeroKeys(ephemeralPrivate);
  const mixed = mixResponse(c, h, ee, es, peer.presharedKey);
  zeroKeys(c);
  const encryptedNothing = seal(mixed.k, ZERO_NONCE, EMPTY, mixed.h);
  zeroKeys(mixed.k);
  const message = encodeResponse({ senderIndex: localIndex, receiverIndex: state.remoteIndex, ephemeral, encryptedNothing, mac1: ZERO_MAC, mac2: ZERO_MAC });
  const [i2r, r2i] = split(mixed.c);
  return { message, keys: { send: r2i, receive: i2r } };
}

/**
 * Consume the response to our initiation (MAC1 verified by the caller, receiver index
 * already matched to `state`). Zeroes the ephemeral private key. Throws HandshakeError.
 */
export function consumeResponse(state: InitiatorState, local: StaticIdentity, peer: PeerSecrets, bytes: Uint8Array): TransportKeys {
  const m = decodeResponse(bytes);
  if (m.receiverIndex !== state.localIndex) throw new HandshakeError("unknown-index", "response for another handshake");
  const c = kdf1(state.chainingKey, m.ephemeral);
  const h = hash(state.hash, m.ephemeral);
  const ee = dh(state.ephemeralPrivate, m.ephemeral);
  const se = dh(local.privateKey, m.ephemeral);
  const mixed = mixResponse(c, h, ee, se, peer.presharedKey);
  zeroKeys(c);
  const ok = open(mixed.k, ZERO_NONCE, m.encryptedNothing, mixed.h);
  zeroKeys(mixed.k);
  if (!ok) {
    zeroKeys(mixed.c);
    throw new HandshakeError("decrypt-failed", "response does not authenticate");
  }
  zeroKeys(state.ephemeralPrivate, state.chainingKey);
  const [i2r, r2i] = split(mixed.c);
  return { send: i2r, receive: r2i };
}

/** The sender index of a response (for routing it to its handshake before consuming). */
export function responseIndices(bytes: Uint8Array): { senderIndex: number; receiverIndex: number } {
  const m = decodeResponse(bytes);
  return { senderIndex: m.senderIndex, receiverIndex: m.receiverIndex };
}

/** Precompute DH(our static, peer static) for a peer; all zero when it is invalid. */
export function precomputeStaticStatic(local: StaticIdentity, remoteStatic: Uint8Array): Uint8Array {
  try {
    return dh(local.privateKey, remoteStatic);
  } catch {
    return new Uint8Array(KEY_SIZE);
  }
}
