/**
 * The pure core of the engine, published as `@taltun/engine/protocol`: the WireGuard
 * protocol (handshake, cookies, timers, replay window), the shared tables, the batch
 * transport path and the control-plane Device. No I/O, no threads, no logger: usable and
 * testable without root, a TUN device or the data plane.
 * @module
 */
export * from "./protocol/keys.js";
export * from "./protocol/address.js";
export * from "./protocol/constants.js";
export { HandshakeError, LayoutError, ConfigError, REDACTED, type HandshakeErrorCode } from "./protocol/errors.js";
export { type Clock, systemClock, ManualClock } from "./protocol/clock.js";
export { publicKeyOf, dhStats } from "./protocol/dh.js";
export { hash, mac, hmacBlake2s, kdf1, kdf2, kdf3 } from "./protocol/kdf.js";
export { tai64n, tai64nAfter } from "./protocol/tai64n.js";
export {
  messageType,
  decodeInitiation,
  encodeInitiation,
  decodeResponse,
  encodeResponse,
  decodeCookieReply,
  encodeCookieReply,
  writeTransportHeader,
  type Initiation,
  type Response,
  type CookieReply,
} from "./protocol/messages.js";
export {
  createInitiation,
  consumeInitiation,
  createResponse,
  consumeResponse,
  precomputeStaticStatic,
  type StaticIdentity,
  type PeerSecrets,
  type TransportKeys,
} from "./protocol/noise.js";
export { CookieChecker, CookieGenerator } from "./protocol/cookie.js";
export { RateLimiter, LoadDetector } from "./protocol/ratelimiter.js";
export { ReplayWindow, replayAccept, replayReset, REPLAY_WORDS } from "./protocol/replay.js";
export { AllowedIps, lookupAddress, lookupPacket } from "./tables/allowed-ips.js";
export { parseEndpoint, formatEndpoint, allowSource, type EndpointRecord } from "./tables/endpoint.js";
export * from "./tables/shared-tables.js";
export * from "./tables/peer-slot.js";
export * from "./tables/keypair-slot.js";
export * from "./tables/receiver-index.js";
export { createTransportBatch, RX_DROP, RX_DROP_NAMES, type TransportBatch } from "./transport/batch.js";
export { prepareSeal } from "./transport/seal.js";
export { prepareOpen, finishOpen } from "./transport/open.js";
export { PeerTimers, type TimerKind } from "./protocol/timers.js";
export { KeypairStore, RETIRE_GRACE } from "./tables/keypair-store.js";
export { type PeerChange } from "./device/peer.js";
export { Device, deviceRegionSize, POLL_INTERVAL, DEFAULT_LOAD_THRESHOLD, type DeviceAction, type DeviceOptions, type PeerStats } from "./device/device.js";
