/**
 * The control-plane core of one WireGuard interface: configuration, handshakes (as
 * initiator and responder), cookies under load, timers, keypair rotation and stats.
 * Pure: no I/O, no setTimeout. The data plane feeds it handshake datagrams and calls
 * {@link Device.tick} at {@link Device.nextDeadline} (and at least every POLL_INTERVAL, so
 * events the workers record in the shared tables are seen); it returns actions to carry
 * out (datagrams to send, sessions installed, failures).
 * @module
 */
import { HEAP_BASE, instantiateAead, SCRATCH_BYTES, type AeadBatch } from "../protocol/aead.js";
import { AllowedIps } from "../tables/allowed-ips.js";
import { systemClock, type Clock } from "../protocol/clock.js";
import { REJECT_AFTER_TIME, REKEY_TIMEOUT, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { CookieChecker } from "../protocol/cookie.js";
import { publicKeyOf, zeroKeys } from "../protocol/dh.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import { ConfigError, HandshakeError, LayoutError, REDACTED, type HandshakeErrorCode } from "../protocol/errors.js";
import { handleHandshake } from "./handshake.js";
import { pollPeer, readEndpoint } from "./poll.js";
import { IndexTable } from "../protocol/index-table.js";
import { KeypairStore } from "../tables/keypair-store.js";
import { createInitiation, precomputeStaticStatic, type StaticIdentity } from "../protocol/noise.js";
import { Peer, type PeerChange } from "./peer.js";
import { LoadDetector, RateLimiter } from "../protocol/ratelimiter.js";
import {
  ENDPOINT_BYTES,
  K_CREATED_BYTE,
  K_FLAGS,
  KP_EXPIRED,
  P_ENDPOINT_SEQ,
  P_FLAGS,
  P_LOCK,
  P_RX_BYTES_LO,
  P_TX_BYTES_LO,
  P_TX_PACKETS,
  PEER_WANT_HANDSHAKE,
  SharedTables,
  sharedTablesSize,
  type TableCapacity,
} from "../tables/shared-tables.js";
import { prepareSeal } from "../transport/seal.js";
import { createTransportBatch, type TransportBatch } from "../transport/batch.js";

/** The data plane should tick at least this often (ms) so worker events drive timers promptly. */
export const POLL_INTERVAL = 250;
/** Default handshake messages per second above which cookies are demanded. */
export const DEFAULT_LOAD_THRESHOLD = 100;
/** Room for one packet the device seals itself (keepalives, test data). */
const DEVICE_PACKET_BYTES = 2048;

/** Something the caller must do, or may want to know. */
export type DeviceAction =
  | { type: "send"; peer: number; endpoint: EndpointRecord; bytes: Uint8Array; message: "initiation" | "response" | "cookie-reply" | "keepalive" }
  | { type: "keypair"; peer: number; role: "initiator" | "responder" }
  | { type: "handshake-failed"; peer: number }
  | { type: "keys-zeroed"; peer: number }
  | { type: "rejected"; peer: number; reason: HandshakeErrorCode };

/** Options of a device. */
export interface DeviceOptions {
  /** Our static private key (32 bytes); can be set later with setPrivateKey. */
  privateKey?: Uint8Array;
  /** The shared memory the data plane and wasm-crypto use. */
  memory: WebAssembly.Memory;
  /** 8-aligned byte offset of the device's region (>= HEAP_BASE); see deviceRegionSize. */
  base: number;
  /** Table sizes; default 64 peers, 3 keypairs each plus 16. */
  capacity?: TableCapacity;
  clock?: Clock;
  /** Handshake messages per second above which MAC2 cookies are demanded. */
  loadThreshold?: number;
  /** Tunnel MTU (padding never exceeds it). */
  mtu?: number;
  /** Retransmit jitter source (tests pin it). */
  jitter?: () => number;
}

/** Per-peer figures for `show`. */
export interface PeerStats {
  slot: number;
  publicKey: Uint8Array;
  endpoint: EndpointRecord | null;
  allowedIps: string[];
  /** Wall-clock ms of the latest handshake, 0 = never. */
  lastHandshake: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number;
}

function defaultCapacity(): TableCapacity {
  return { peers: 64, keypairs: 64 * 3 + 16 };
}

/** Bytes a device needs at `base`: shared tables, then its own packet and AEAD scratch. */
export function deviceRegionSize(capacity: TableCapacity = defaultCapacity()): number {
  return sharedTablesSize(capacity) + 64 + TRANSPORT_HEADER_SIZE + DEVICE_PACKET_BYTES + 64 + SCRATCH_BYTES;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** One WireGuard interface's control plane. */
export class Device {
  readonly tables: SharedTables;
  readonly allowedIps = new AllowedIps(true);
  readonly clock: Clock;
  /** @internal */ identity: StaticIdentity | null = null;
  /** @internal */ checker: CookieChecker | null = null;
  /** @internal */ readonly keypairs: KeypairStore;
  /** @internal */ readonly indices: IndexTable<Peer>;
  /** @internal */ readonly load: LoadDetector;
  /** @internal */ readonly limiter = new RateLimiter();
  private readonly peersBySlot = new Map<number, Peer>();
  private readonly peersByKey = new Map<string, Peer>();
  private readonly freePeerSlots: number[] = [];
  private readonly aead: AeadBatch;
  private readonly batch: TransportBatch;
  private readonly jitter?: () => number;

  constructor(opts: DeviceOptions) {
    const capacity = opts.capacity ?? defaultCapacity();
    if (opts.base < HEAP_BASE) throw new LayoutError(`device region must start at or after HEAP_BASE (${HEAP_BASE})`);
    this.tables = SharedTables.create(opts.memory.buffer, opts.base, capacity);
    const scratch = opts.base + sharedTablesSize(capacity);
    this.batch = createTransportBatch(1, scratch, opts.mtu ?? 1420);
    this.batch.data[0] = scratch + 64 + TRANSPORT_HEADER_SIZE;
    this.aead = instantiateAead(opts.memory, scratch + 64 + TRANSPORT_HEADER_SIZE + DEVICE_PACKET_BYTES + 64);
    this.clock = opts.clock ?? systemClock;
    this.load = new LoadDetector(opts.loadThreshold ?? DEFAULT_LOAD_THRESHOLD);
    this.jitter = opts.jitter;
    this.keypairs = new KeypairStore(this.tables);
    this.indices = new IndexTable<Peer>((i) => this.tables.lookupIndex(i) >= 0);
    for (let p = capacity.peers - 1; p >= 0; p--) this.freePeerSlots.push(p);
    if (opts.privateKey) this.setPrivateKey(opts.privateKey);
  }

  /** Our static public key, or null before a private key is set. */
  get publicKey(): Uint8Array | null {
    return this.identity?.publicKey ?? null;
  }

  /** Set (or change) our private key: every session and pending handshake is dropped. */
  setPrivateKey(privateKey: Uint8Array): void {
    if (privateKey.length !== 32) throw new ConfigError("private_key", REDACTED, "must be 32 bytes");
    if (this.identity) zeroKeys(this.identity.privateKey);
    this.identity = { privateKey: privateKey.slice(), publicKey: publicKeyOf(privateKey) };
    this.checker = new CookieChecker(this.identity.publicKey);
    const now = this.clock.now();
    for (const peer of this.peersBySlot.values()) {
      peer.secrets.staticStatic = precomputeStaticStatic(this.identity, peer.publicKey);
      this.resetSessions(peer, now);
    }
  }

  /**
   * Shut down: every keypair and pending handshake is dropped and zeroed at once, and so
   * are our private key and each peer's preshared key and precomputed static-static DH.
   * The device must not be used afterwards.
   */
  close(): void {
    const now = this.clock.now();
    for (const peer of this.peersBySlot.values()) {
      this.resetSessions(peer, now);
      peer.timers.stopAll();
      peer.secrets.presharedKey.fill(0);
      peer.secrets.staticStatic.fill(0);
    }
    this.keypairs.collectAll();
    if (this.identity) zeroKeys(this.identity.privateKey);
    this.identity = null;
    this.checker = null;
  }

  /** Add a peer, or update the one with this public key. Returns its slot number. */
  addPeer(cfg: PeerChange): number {
    if (cfg.publicKey.length !== 32) throw new ConfigError("public_key", `${cfg.publicKey.length} bytes`, "must be 32 bytes");
    if (cfg.presharedKey && cfg.presharedKey.length !== 32) throw new ConfigError("preshared_key", REDACTED, "must be 32 bytes");
    let peer = this.peersByKey.get(hex(cfg.publicKey));
    if (!peer) {
      const slot = this.freePeerSlots.pop();
      if (slot === undefined) throw new LayoutError("no free peer slot");
      const pk = cfg.publicKey.slice();
      const ss = this.identity ? precomputeStaticStatic(this.identity, pk) : new Uint8Array(32);
      peer = new Peer(slot, { remoteStatic: pk, presharedKey: new Uint8Array(32), staticStatic: ss }, null, 0, this.jitter);
      // Its keypairs were retired when the previous peer was removed: zeroed, it holds none.
      this.tables.claimPeer(slot);
      this.peersBySlot.set(slot, peer);
      this.peersByKey.set(hex(pk), peer);
    }
    if (cfg.presharedKey) peer.secrets.presharedKey = cfg.presharedKey.slice();
    if (cfg.endpoint) this.setEndpoint(peer, cfg.endpoint);
    if (cfg.persistentKeepalive !== undefined) {
      peer.timers.persistentInterval = cfg.persistentKeepalive * 1000;
      // Turning it on sends one at once (which may start the handshake); off disarms it.
      peer.timers.persistentAt = cfg.persistentKeepalive > 0 ? this.clock.now() : Infinity;
    }
    if (cfg.allowedIps) {
      this.allowedIps.removePeer(peer.slot);
      for (const p of cfg.allowedIps) this.allowedIps.insert(p, peer.slot);
    }
    return peer.slot;
  }

  /** Remove a peer: its sessions are retired, its allowed IPs dropped, its slot freed. */
  removePeer(publicKey: Uint8Array): void {
    const peer = this.peersByKey.get(hex(publicKey));
    if (!peer) return;
    this.resetSessions(peer, this.clock.now());
    peer.timers.stopAll();
    this.allowedIps.removePeer(peer.slot);
    Atomics.store(this.tables.i32, this.tables.peerWord(peer.slot, P_FLAGS), 0);
    this.peersByKey.delete(hex(publicKey));
    this.peersBySlot.delete(peer.slot);
    this.freePeerSlots.push(peer.slot);
  }

  /** The slot of the peer with this public key, or -1. */
  peerSlot(publicKey: Uint8Array): number {
    return this.peersByKey.get(hex(publicKey))?.slot ?? -1;
  }

  /** @internal */ peerByKey(publicKey: Uint8Array): Peer | undefined {
    return this.peersByKey.get(hex(publicKey));
  }

  /** @internal */ peerBySlot(slot: number): Peer | undefined {
    return this.peersBySlot.get(slot);
  }

  /**
   * Process a handshake datagram (types 1-3) from `endpoint` (an endpoint record).
   * MAC1 is checked before anything else; under load, MAC2 before any DH.
   */
  handleHandshakeMessage(bytes: Uint8Array, endpoint: EndpointRecord, now: number): DeviceAction[] {
    try {
      return handleHandshake(this, bytes, endpoint, now);
    } catch (e) {
      if (e instanceof HandshakeError) return [{ type: "rejected", peer: -1, reason: e.code }];
      throw e;
    }
  }

  /** Start a handshake with a peer now (e.g. `taltun up` in client mode). */
  initiate(slot: number, now: number): DeviceAction[] {
    const peer = this.peersBySlot.get(slot);
    return peer ? this.sendInitiation(peer, now, false) : [];
  }

  /** Seal `payload` for peer `slot` through the transport path: a type-4 datagram, or null without a usable keypair. */
  encodeTransport(slot: number, payload: Uint8Array, now: number): Uint8Array | null {
    const b = this.batch;
    if (payload.length > DEVICE_PACKET_BYTES - 32) throw new RangeError(`payload of ${payload.length} bytes is larger than the device's own buffer`);
    this.tables.u8.set(payload, b.data[0]);
    b.count = 1;
    b.peers[0] = slot;
    b.lengths[0] = payload.length;
    if (prepareSeal(this.tables, b, now) === 0) return null;
    this.aead.sealBatch(b.descPtr, 1);
    const start = b.data[0] - TRANSPORT_HEADER_SIZE;
    return this.tables.u8.slice(start, start + b.lengths[0]);
  }

  /** Run due timers and poll the data plane's counters. */
  tick(now: number): DeviceAction[] {
    const actions: DeviceAction[] = [];
    this.keypairs.collect(now);
    for (const peer of this.peersBySlot.values()) {
      pollPeer(this, peer, now, actions);
      for (const kind of peer.timers.due(now)) {
        switch (kind) {
          case "retransmit":
            actions.push(...this.sendInitiation(peer, now, true));
            break;
          case "give-up":
            this.dropInitiation(peer);
            actions.push({ type: "handshake-failed", peer: peer.slot });
            break;
          case "new-handshake":
            actions.push(...this.sendInitiation(peer, now, false));
            break;
          case "keepalive":
          case "persistent-keepalive":
            actions.push(...this.sendKeepalive(peer, now));
            break;
          case "zero-keys":
            this.resetSessions(peer, now);
            this.keypairs.collectAll();
            actions.push({ type: "keys-zeroed", peer: peer.slot });
            break;
        }
      }
      for (const slot of peer.ownedSlots) {
        if (now - this.tables.f64[this.tables.keypairByte(slot, K_CREATED_BYTE) >> 3] >= REJECT_AFTER_TIME) this.keypairs.expire(slot);
      }
    }
    return actions;
  }

  /** The earliest time tick() has work to do (timers only; poll at least every POLL_INTERVAL). */
  nextDeadline(): number {
    let at = Infinity;
    for (const peer of this.peersBySlot.values()) {
      at = Math.min(at, peer.timers.nextDeadline());
      for (const slot of peer.ownedSlots) {
        if ((this.tables.i32[this.tables.keypairWord(slot, K_FLAGS)] & KP_EXPIRED) === 0) {
          at = Math.min(at, this.tables.f64[this.tables.keypairByte(slot, K_CREATED_BYTE) >> 3] + REJECT_AFTER_TIME);
        }
      }
    }
    return at;
  }

  /** Figures of every peer, for `show` and the UAPI. */
  peerStats(): PeerStats[] {
    const t = this.tables;
    const u64 = (w: number) => (t.i32[w] >>> 0) + (t.i32[w + 1] >>> 0) * 2 ** 32;
    for (const p of this.peersBySlot.values()) {
      // Workers move endpoints between ticks: report where the peer is now.
      if (Atomics.load(t.i32, t.peerWord(p.slot, P_ENDPOINT_SEQ)) !== p.polled.endpointSeq) readEndpoint(this, p);
    }
    return [...this.peersBySlot.values()].map((p) => ({
      slot: p.slot,
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      allowedIps: this.allowedIps.prefixesOf(p.slot),
      lastHandshake: p.lastHandshakeWall,
      rxBytes: u64(t.peerWord(p.slot, P_RX_BYTES_LO)),
      txBytes: u64(t.peerWord(p.slot, P_TX_BYTES_LO)),
      persistentKeepalive: p.timers.persistentInterval / 1000,
    }));
  }

  /** @internal Send (or, rate-limited, skip) an initiation to `peer`. */
  sendInitiation(peer: Peer, now: number, retry: boolean): DeviceAction[] {
    if (!this.identity || !peer.endpoint) return [];
    // A fresh attempt waits while a series is under way: its jittered retransmit will
    // come, and that jitter is what separates two peers initiating at the same moment.
    if (!retry && (now - peer.lastInitiationSent < REKEY_TIMEOUT || peer.timers.retransmitAt !== Infinity)) return [];
    this.dropInitiation(peer);
    const localIndex = this.indices.allocate(peer);
    const { message, state } = createInitiation(this.identity, peer.secrets, localIndex, this.clock.wallTime());
    peer.cookies.addMacs(message, now);
    peer.initiation = state;
    peer.lastInitiationSent = now;
    peer.timers.anyAuthenticatedPacketTraversal(now);
    peer.timers.anyAuthenticatedPacketSent();
    peer.timers.handshakeInitiated(now, retry);
    return [{ type: "send", peer: peer.slot, endpoint: peer.endpoint, bytes: message, message: "initiation" }];
  }

  /** @internal Forget our pending initiation to `peer`, zeroing its secrets. */
  dropInitiation(peer: Peer): void {
    if (!peer.initiation) return;
    this.indices.delete(peer.initiation.localIndex);
    peer.initiation.ephemeralPrivate.fill(0);
    peer.initiation.chainingKey.fill(0);
    peer.initiation = null;
  }

  /** @internal A keepalive through the transport path, or a handshake when there is no keypair. */
  sendKeepalive(peer: Peer, now: number): DeviceAction[] {
    const bytes = this.encodeTransport(peer.slot, new Uint8Array(0), now);
    if (!bytes) {
      Atomics.and(this.tables.i32, this.tables.peerWord(peer.slot, P_FLAGS), ~PEER_WANT_HANDSHAKE);
      return this.sendInitiation(peer, now, false);
    }
    peer.polled.txPackets = Atomics.load(this.tables.i32, this.tables.peerWord(peer.slot, P_TX_PACKETS));
    peer.timers.anyAuthenticatedPacketSent();
    peer.timers.anyAuthenticatedPacketTraversal(now);
    return peer.endpoint ? [{ type: "send", peer: peer.slot, endpoint: peer.endpoint, bytes, message: "keepalive" }] : [];
  }

  /** @internal Record `endpoint` as where `peer` is, for us and for the workers. */
  setEndpoint(peer: Peer, endpoint: EndpointRecord): void {
    const t = this.tables;
    peer.endpoint = endpoint.slice(0, ENDPOINT_BYTES);
    const lock = t.peerWord(peer.slot, P_LOCK);
    t.lock(lock);
    const seq = t.peerWord(peer.slot, P_ENDPOINT_SEQ);
    Atomics.add(t.i32, seq, 1);
    const at = t.endpointAddress(peer.slot);
    t.u8.fill(0, at, at + ENDPOINT_BYTES);
    t.u8.set(peer.endpoint, at);
    peer.polled.endpointSeq = Atomics.add(t.i32, seq, 1) + 1;
    t.unlock(lock);
  }

  /** Retire every keypair and the pending handshake of `peer`. */
  private resetSessions(peer: Peer, now: number): void {
    this.dropInitiation(peer);
    this.keypairs.retireAll(peer.slot, now);
    peer.ownedSlots.clear();
    peer.timers.zeroKeysAt = Infinity;
  }
}
