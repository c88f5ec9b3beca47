/** Package version, kept in step with package.json. */
export const VERSION = "0.1.0";

// Configuration, keys, logging, UAPI and the interface entry point (the user-facing side).
export * from "./keys.js";
export * from "./net-address.js";
export {
  ConfigError, DEFAULT_MTU, INTERFACE_KEYS, PEER_KEYS, validateConfig,
  type InterfaceConfig, type LogLevel, type PeerConfig, type TaltunConfig, type ValidateOptions,
} from "./config.js";
export * from "./log.js";
export * from "./uapi.js";
export * from "./interface.js";

// ---- WireGuard protocol core (issue 4): handshake, cookies, timers, keypairs, transport ----
export * from "./constants.js";
export { HandshakeError, ConfigError as DeviceConfigError, LayoutError, type HandshakeErrorCode } from "./errors.js";
export { type Clock, systemClock, ManualClock } from "./clock.js";
export { publicKeyOf, dhStats } from "./dh.js";
export { hash, mac, hmacBlake2s, kdf1, kdf2, kdf3 } from "./kdf.js";
export { tai64n, tai64nAfter } from "./tai64n.js";
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
} from "./messages.js";
export {
  createInitiation,
  consumeInitiation,
  createResponse,
  consumeResponse,
  precomputeStaticStatic,
  type StaticIdentity,
  type PeerSecrets,
  type TransportKeys,
} from "./noise.js";
export { CookieChecker, CookieGenerator } from "./cookie.js";
export { RateLimiter, LoadDetector } from "./ratelimiter.js";
export { ReplayWindow, replayAccept, replayReset, REPLAY_WORDS } from "./replay.js";
export { AllowedIps, lookupAddress, lookupPacket } from "./allowed-ips.js";
export { parsePrefix, formatPrefix, type Prefix } from "./ip.js";
export { parseEndpoint, formatEndpoint, type Endpoint } from "./endpoint.js";
export * from "./shared-tables.js";
export { createTransportBatch, copyEndpoint, RX_DROP, RX_DROP_NAMES, type TransportBatch } from "./transport.js";
export { prepareSeal } from "./send.js";
export { prepareOpen, finishOpen } from "./receive.js";
export { PeerTimers, type TimerKind } from "./timers.js";
export { KeypairStore, RETIRE_GRACE } from "./keypair.js";
export { type PeerConfig as DevicePeerConfig } from "./peer.js";
export { Device, deviceRegionSize, POLL_INTERVAL, DEFAULT_LOAD_THRESHOLD, type DeviceAction, type DeviceOptions, type PeerStats } from "./device.js";
// ---- end of protocol core exports ----
