/**
 * A configured peer, as the control plane sees it: its keys, handshake state, cookie
 * state, timers, endpoint and the last values of its shared counters it has polled.
 * The data-plane view of the same peer is its slot in the shared tables.
 * @module
 */
import { newCounters, type PeerCounters } from "../tables/peer-slot.js";
import { CookieGenerator } from "../protocol/cookie.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import type { InitiatorState, PeerSecrets } from "../protocol/noise.js";
import { PeerTimers } from "../protocol/timers.js";

/** A change to one peer, as the runtime and the UAPI hand it to the Device: absent fields stay as they are. */
export interface PeerChange {
  /** 32-byte static public key. */
  publicKey: Uint8Array;
  /** 32-byte preshared key (optional). */
  presharedKey?: Uint8Array;
  /** Prefixes routed to this peer ("100.64.0.2/32", "fd00::/64"). */
  allowedIps?: string[];
  /** Where to send until the peer roams (an endpoint record, see endpoint.ts). */
  endpoint?: EndpointRecord;
  /** Persistent keepalive interval in seconds; 0 or absent = off. */
  persistentKeepalive?: number;
}

/** Control-plane state of one peer. */
export class Peer {
  /** Our initiation awaiting a response, and the index the response must carry. */
  initiation: InitiatorState | null = null;
  /** Greatest TAI64N timestamp received in an initiation from this peer. */
  lastTimestamp: Uint8Array | null = null;
  /** When we last consumed an initiation from it (flood guard), monotonic ms. */
  lastInitiationConsumed = -Infinity;
  /** When we last sent an initiation (REKEY_TIMEOUT rate limit), monotonic ms. */
  lastInitiationSent = -Infinity;
  /** Wall-clock ms of the last completed handshake (0 = never), for `show`. */
  lastHandshakeWall = 0;
  /** Keypair slots installed for this peer and not yet retired. */
  readonly ownedSlots = new Set<number>();
  readonly cookies: CookieGenerator;
  readonly timers: PeerTimers;
  /** The shared peer slot's counters as of the last poll. */
  readonly polled: PeerCounters = newCounters();

  constructor(
    /** Slot number in the shared tables; also the value allowed IPs map to. */
    readonly slot: number,
    readonly secrets: PeerSecrets,
    public endpoint: EndpointRecord | null,
    persistentKeepalive: number,
    jitter?: () => number,
  ) {
    this.cookies = new CookieGenerator(secrets.remoteStatic);
    this.timers = new PeerTimers(persistentKeepalive * 1000, jitter);
  }

  /** The static public key. */
  get publicKey(): Uint8Array {
    return this.secrets.remoteStatic;
  }

  /** The preshared key, or null when none is set (the protocol then uses 32 zero bytes). */
  get presharedKey(): Uint8Array | null {
    return this.secrets.presharedKey.some((b) => b !== 0) ? this.secrets.presharedKey : null;
  }

  /** Forget the preshared key: later handshakes use 32 zero bytes. */
  clearPresharedKey(): void {
    this.secrets.presharedKey.fill(0);
  }
}
