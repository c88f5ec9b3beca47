/**
 * The control plane's state as one plain record, which the session functions, the
 * handshake receiver, the poller, the ticker and the key, peer and stats helpers work on,
 * and the {@link Device} facade owns: nothing here reaches back into the facade.
 * @module
 */
import type { AeadBatch } from "../protocol/aead.js";
import type { Clock } from "../protocol/clock.js";
import type { CookieChecker } from "../protocol/cookie.js";
import type { HandshakeErrorCode } from "../protocol/errors.js";
import type { IndexTable } from "../protocol/index-table.js";
import type { StaticIdentity } from "../protocol/noise.js";
import type { LoadDetector, RateLimiter } from "../protocol/ratelimiter.js";
import type { AllowedIps } from "../tables/allowed-ips.js";
import type { KeypairStore } from "../tables/keypair-store.js";
import type { SharedTables } from "../tables/shared-tables.js";
import type { TransportBatch } from "../transport/batch.js";
import type { Peer } from "./peer.js";

/** What the control plane did with handshake messages, for `show` and the metrics. */
export interface HandshakeCounts {
  rejected: Map<HandshakeErrorCode, number>;
  cookieReplies: number;
}

/** Everything one interface's control plane knows. */
export interface DeviceState {
  readonly tables: SharedTables;
  readonly allowedIps: AllowedIps;
  readonly clock: Clock;
  /** Our static key pair; null until a private key is set. */
  identity: StaticIdentity | null;
  /** Checks MAC1/MAC2 of messages to us and makes cookie replies; null without a key. */
  checker: CookieChecker | null;
  readonly keypairs: KeypairStore;
  /** Our receiver indices of pending initiations, and the peer each belongs to. */
  readonly indices: IndexTable<Peer>;
  readonly load: LoadDetector;
  /** Under load until this moment (monotonic ms; load.ts). */
  underLoadUntil: number;
  /** The verdict last written to the cookie record. */
  underLoadPublished: boolean;
  /** Handshake messages the control plane rejected, by reason, and cookie replies it sent. */
  readonly counts: HandshakeCounts;
  readonly limiter: RateLimiter;
  readonly peersBySlot: Map<number, Peer>;
  /** Keyed by the hex of the static public key. */
  readonly peersByKey: Map<string, Peer>;
  /** The device's own one-packet transport batch and AEAD, for keepalives. */
  readonly batch: TransportBatch;
  readonly aead: AeadBatch;
  /** Retransmit jitter source (tests pin it). */
  readonly jitter?: () => number;
}

/** The key of `peersByKey`. */
export function keyId(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString("hex");
}
