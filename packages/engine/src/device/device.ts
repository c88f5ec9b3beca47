/**
 * The control plane of one WireGuard interface, as one facade: configuration, handshakes
 * (as initiator and responder), cookies under load, timers, keypair rotation and stats.
 * Pure: no I/O, no setTimeout. The data plane feeds it handshake datagrams and calls
 * {@link Device.tick} at {@link Device.nextDeadline} (and at least every POLL_INTERVAL, so
 * events the workers record in the shared tables are seen); it returns actions to carry
 * out (datagrams to send, sessions installed, failures). The work itself is done by
 * session.ts, handshake.ts and poll.ts on the state record of state.ts.
 * @module
 */
import { HEAP_BASE, instantiateAead, SCRATCH_BYTES } from "../protocol/aead.js";
import { systemClock, type Clock } from "../protocol/clock.js";
import { REJECT_AFTER_TIME, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { CookieChecker } from "../protocol/cookie.js";
import { publicKeyOf, zeroKeys } from "../protocol/dh.js";
import { ConfigError, HandshakeError, type HandshakeErrorCode, LayoutError, REDACTED } from "../protocol/errors.js";
import { IndexTable } from "../protocol/index-table.js";
import { keysEqual } from "../protocol/keys.js";
import { precomputeStaticStatic } from "../protocol/noise.js";
import { LoadDetector, RateLimiter } from "../protocol/ratelimiter.js";
import { AllowedIps } from "../tables/allowed-ips.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import { KP_EXPIRED, keypairCreatedAt, keypairFlags } from "../tables/keypair-slot.js";
import { KeypairStore } from "../tables/keypair-store.js";
import { claimPeer, endpointSequence, releasePeer, requestHandshake, transferred } from "../tables/peer-slot.js";
import { lookupIndex } from "../tables/receiver-index.js";
import { publishCookieKeys, publishCookieSecret } from "../tables/cookie-record.js";
import { SharedTables, sharedTablesSize, type TableCapacity } from "../tables/shared-tables.js";
import { createTransportBatch } from "../transport/batch.js";
import type { DeviceAction } from "./actions.js";
import { handleHandshake } from "./handshake.js";
import { noteHandshakes, RING_LOAD_FRACTION } from "./load.js";
import { Peer, type PeerChange } from "./peer.js";
import { pollPeer, pollEndpoint } from "./poll.js";
import { DEVICE_PACKET_BYTES, dropInitiation, encodeTransport, resetSessions, sendInitiation, sendKeepalive, setEndpoint } from "./session.js";
import { type DeviceState, keyId } from "./state.js";

export type { DeviceAction } from "./actions.js";

const isInitiation = (a: DeviceAction) => a.type === "send" && a.message === "initiation";

/** The data plane should tick at least this often (ms) so worker events drive timers promptly. */
export const POLL_INTERVAL = 250;
/**
 * Handshakes a {@link Device.tick} starts at most (each costs X25519 operations): with
 * thousands of peers due at once (10,000 with persistent keepalives after `wg setconf`),
 * the rest wait for the next ticks, taken in turn, and {@link Device.nextDeadline} says
 * "now" until they are done, so the event loop runs between.
 */
export const TICK_INITIATIONS = 32;
/** Default handshake messages per second above which cookies are demanded. */
export const DEFAULT_LOAD_THRESHOLD = 100;

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

/** One WireGuard interface's control plane. */
export class Device {
  private readonly s: DeviceState;
  private readonly freePeerSlots: number[] = [];
  /** The peer whose timers the next tick runs first: where the last one ran out of initiations; -1: none. */
  private resumeAt = -1;
  /** Slots of peers removed while changes are held: not given to another peer before the release. */
  private heldSlots: number[] | null = null;

  constructor(opts: DeviceOptions) {
    const capacity = opts.capacity ?? defaultCapacity();
    if (opts.base < HEAP_BASE) throw new LayoutError(`device region must start at or after HEAP_BASE (${HEAP_BASE})`);
    const tables = SharedTables.create(opts.memory.buffer, opts.base, capacity);
    const scratch = opts.base + sharedTablesSize(capacity);
    const batch = createTransportBatch(1, scratch, opts.mtu ?? 1420);
    batch.data[0] = scratch + 64 + TRANSPORT_HEADER_SIZE;
    this.s = {
      tables,
      allowedIps: new AllowedIps(true),
      clock: opts.clock ?? systemClock,
      identity: null,
      checker: null,
      keypairs: new KeypairStore(tables),
      indices: new IndexTable<Peer>((i) => lookupIndex(tables, i) >= 0),
      load: new LoadDetector(opts.loadThreshold ?? DEFAULT_LOAD_THRESHOLD),
      underLoadUntil: -Infinity,
      underLoadPublished: false,
      counts: { rejected: new Map(), cookieReplies: 0 },
      limiter: new RateLimiter(),
      peersBySlot: new Map(),
      peersByKey: new Map(),
      batch,
      aead: instantiateAead(opts.memory, scratch + 64 + TRANSPORT_HEADER_SIZE + DEVICE_PACKET_BYTES + 64),
      jitter: opts.jitter,
    };
    for (let p = capacity.peers - 1; p >= 0; p--) this.freePeerSlots.push(p);
    if (opts.privateKey) this.setPrivateKey(opts.privateKey);
  }

  /** The tables shared with the data-plane workers. */
  get tables(): SharedTables {
    return this.s.tables;
  }

  /** The allowed-IPs table; its snapshot is what the workers route and source-check with. */
  get allowedIps(): AllowedIps {
    return this.s.allowedIps;
  }

  /** The device's clock. */
  get clock(): Clock {
    return this.s.clock;
  }

  /** The keypair slots (tests and `show`). */
  get keypairs(): KeypairStore {
    return this.s.keypairs;
  }

  /** Our static public key, or null before a private key is set. */
  get publicKey(): Uint8Array | null {
    return this.s.identity?.publicKey ?? null;
  }

  /**
   * Set (or change) our private key: every session and pending handshake is dropped. The
   * same key again changes nothing (`wg syncconf` sends it every time).
   */
  setPrivateKey(privateKey: Uint8Array): void {
    const s = this.s;
    if (privateKey.length !== 32) throw new ConfigError("private_key", REDACTED, "must be 32 bytes");
    if (s.identity && keysEqual(s.identity.privateKey, privateKey)) return;
    if (s.identity) zeroKeys(s.identity.privateKey);
    s.identity = { privateKey: privateKey.slice(), publicKey: publicKeyOf(privateKey) };
    s.checker = new CookieChecker(s.identity.publicKey);
    // The workers check MAC1 with our new key from now on, and cookies under a new secret.
    publishCookieKeys(s.tables, s.checker.keys);
    const now = s.clock.now();
    this.refreshCookieSecret(now);
    for (const peer of s.peersBySlot.values()) {
      peer.secrets.staticStatic = precomputeStaticStatic(s.identity, peer.publicKey);
      resetSessions(s, peer, now);
    }
  }

  /**
   * Shut down: every keypair and pending handshake is dropped and zeroed at once, and so
   * are our private key and each peer's preshared key and precomputed static-static DH.
   * The device must not be used afterwards.
   */
  close(): void {
    const s = this.s;
    const now = s.clock.now();
    for (const peer of s.peersBySlot.values()) {
      resetSessions(s, peer, now);
      peer.timers.stopAll();
      peer.secrets.presharedKey.fill(0);
      peer.secrets.staticStatic.fill(0);
    }
    s.keypairs.collectAll();
    if (s.identity) zeroKeys(s.identity.privateKey);
    s.identity = null;
    s.checker = null;
    publishCookieKeys(s.tables, null);
  }

  /** Add a peer, or change the one with this public key. Returns its slot number. */
  addPeer(change: PeerChange): number {
    const s = this.s;
    if (change.publicKey.length !== 32) throw new ConfigError("public_key", `${change.publicKey.length} bytes`, "must be 32 bytes");
    if (change.presharedKey && change.presharedKey.length !== 32) throw new ConfigError("preshared_key", REDACTED, "must be 32 bytes");
    let peer = s.peersByKey.get(keyId(change.publicKey));
    if (!peer) {
      const slot = this.freePeerSlots.pop();
      if (slot === undefined) throw new LayoutError(this.heldSlots?.length ? "no free peer slot until the change under way is complete" : "no free peer slot");
      const pk = change.publicKey.slice();
      const ss = s.identity ? precomputeStaticStatic(s.identity, pk) : new Uint8Array(32);
      peer = new Peer(slot, { remoteStatic: pk, presharedKey: new Uint8Array(32), staticStatic: ss }, null, 0, s.jitter);
      // Its keypairs were retired when the previous peer was removed: zeroed, it holds none.
      claimPeer(s.tables, slot);
      s.peersBySlot.set(slot, peer);
      s.peersByKey.set(keyId(pk), peer);
    }
    if (change.presharedKey) peer.secrets.presharedKey = change.presharedKey.slice();
    if (change.endpoint) setEndpoint(s, peer, change.endpoint);
    if (change.persistentKeepalive !== undefined) {
      peer.timers.persistentInterval = change.persistentKeepalive * 1000;
      // Turning it on sends one at once (which may start the handshake); off disarms it.
      peer.timers.persistentAt = change.persistentKeepalive > 0 ? s.clock.now() : Infinity;
    }
    if (change.allowedIps) {
      s.allowedIps.removePeer(peer.slot);
      for (const p of change.allowedIps) s.allowedIps.insert(p, peer.slot);
    }
    return peer.slot;
  }

  /** Remove a peer: its sessions are retired, its allowed IPs dropped, its slot freed. */
  removePeer(publicKey: Uint8Array): void {
    const s = this.s;
    const peer = s.peersByKey.get(keyId(publicKey));
    if (!peer) return;
    resetSessions(s, peer, s.clock.now());
    peer.timers.stopAll();
    s.allowedIps.removePeer(peer.slot);
    releasePeer(s.tables, peer.slot);
    s.peersByKey.delete(keyId(publicKey));
    s.peersBySlot.delete(peer.slot);
    (this.heldSlots ?? this.freePeerSlots).push(peer.slot);
  }

  /**
   * Hold (true) or release (false) what the data plane sees of a change made in steps (a
   * long UAPI request applied in parts): while held, the allowed-IPs snapshot stays the one
   * the workers have, and the slot of a peer removed meanwhile is not given to a new peer
   * (the workers' snapshot may still route to it). On release both catch up: the next
   * snapshot has the whole change, and the slots are free again.
   */
  holdChanges(on: boolean): void {
    this.s.allowedIps.hold(on);
    if (on) this.heldSlots ??= [];
    else if (this.heldSlots) {
      this.freePeerSlots.push(...this.heldSlots);
      this.heldSlots = null;
    }
  }

  /** The slot of the peer with this public key, or -1. */
  peerSlot(publicKey: Uint8Array): number {
    return this.s.peersByKey.get(keyId(publicKey))?.slot ?? -1;
  }

  /** The peer in `slot`, if any. */
  peerBySlot(slot: number): Peer | undefined {
    return this.s.peersBySlot.get(slot);
  }

  /** Every peer, in the order added (for what must visit all of them cheaply; {@link peerStats} builds a record each). */
  peers(): IterableIterator<Peer> {
    return this.s.peersBySlot.values();
  }

  /** Number of peers. */
  get peerCount(): number {
    return this.s.peersBySlot.size;
  }

  /**
   * Process a handshake datagram (types 1-3) from `endpoint` (an endpoint record).
   * MAC1 is checked before anything else; under load, MAC2 before any DH.
   */
  handleHandshakeMessage(bytes: Uint8Array, endpoint: EndpointRecord, now: number): DeviceAction[] {
    const counts = this.s.counts;
    this.refreshCookieSecret(now);
    try {
      const actions = handleHandshake(this.s, bytes, endpoint, now);
      if (actions.length === 1 && actions[0].type === "send" && actions[0].message === "cookie-reply") counts.cookieReplies++;
      return actions;
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      counts.rejected.set(e.code, (counts.rejected.get(e.code) ?? 0) + 1);
      return [{ type: "rejected", peer: -1, reason: e.code }];
    }
  }

  /**
   * What the workers did with handshake messages since the last call, for the load
   * verdict: `absorbed` MAC1-valid messages they answered or dropped themselves (the
   * control plane never saw them), and `ringFill`, the fullest ring's occupancy (0-1)
   * before it was drained. Returns whether the device is under load (also published to
   * the workers). See load.ts.
   */
  noteLoad(now: number, absorbed: number, ringFill: number): boolean {
    return noteHandshakes(this.s, now, absorbed, ringFill >= RING_LOAD_FRACTION);
  }

  /** Whether the device demands MAC2 on handshake messages now. */
  underLoad(now: number): boolean {
    return noteHandshakes(this.s, now, 0);
  }

  /** Handshake messages the control plane rejected, by reason, and the cookie replies it sent (the workers count their own). */
  handshakeCounts(): { rejected: Partial<Record<HandshakeErrorCode, number>>; cookieReplies: number } {
    const { rejected, cookieReplies } = this.s.counts;
    return { rejected: Object.fromEntries(rejected), cookieReplies };
  }

  /** The owner of the cookie secret redraws it every COOKIE_REFRESH_TIME, and the workers follow. */
  private refreshCookieSecret(now: number): void {
    const secret = this.s.checker?.refresh(now);
    if (!secret) return;
    publishCookieSecret(this.s.tables, secret);
    secret.fill(0);
  }

  /** Start a handshake with a peer now (e.g. `taltun up` in client mode). */
  initiate(slot: number, now: number): DeviceAction[] {
    const peer = this.s.peersBySlot.get(slot);
    return peer ? sendInitiation(this.s, peer, now, false) : [];
  }

  /**
   * Ask for a handshake with a peer at the next ticks rather than now: many asked at once
   * (a 10,000-peer configuration coming up) are started TICK_INITIATIONS a tick, so the
   * control plane keeps answering while they go out.
   */
  requestInitiation(slot: number): void {
    if (this.s.peersBySlot.has(slot)) requestHandshake(this.s.tables, slot);
  }

  /** Seal `payload` for peer `slot` through the transport path: a type-4 datagram, or null without a usable keypair. */
  encodeTransport(slot: number, payload: Uint8Array, now: number): Uint8Array | null {
    return encodeTransport(this.s, slot, payload, now);
  }

  /**
   * Run due timers and poll the data plane's counters. At most TICK_INITIATIONS handshakes
   * are started; the peers whose timers were not run then go first next time.
   */
  tick(now: number): DeviceAction[] {
    const s = this.s;
    const actions: DeviceAction[] = [];
    s.keypairs.collect(now);
    this.refreshCookieSecret(now);
    noteHandshakes(s, now, 0);
    let budget = TICK_INITIATIONS;
    let next = -1;
    const run = (peer: Peer) => {
      if (budget <= 0) {
        if (next < 0) next = peer.slot;
        return;
      }
      const before = actions.length;
      this.runTimers(peer, now, actions);
      for (let i = before; i < actions.length; i++) if (isInitiation(actions[i])) budget--;
    };
    // Every peer is polled; timers run from where the last tick stopped, round the list.
    let started = this.resumeAt < 0 || !s.peersBySlot.has(this.resumeAt);
    for (const peer of s.peersBySlot.values()) {
      const before = actions.length;
      pollPeer(s, peer, now, actions, budget > 0);
      for (let i = before; i < actions.length; i++) if (isInitiation(actions[i])) budget--;
      if (peer.slot === this.resumeAt) started = true;
      if (started) run(peer);
    }
    if (this.resumeAt >= 0 && s.peersBySlot.has(this.resumeAt)) {
      for (const peer of s.peersBySlot.values()) {
        if (peer.slot === this.resumeAt) break;
        run(peer);
      }
    }
    this.resumeAt = next;
    return actions;
  }

  private runTimers(peer: Peer, now: number, actions: DeviceAction[]): void {
    const s = this.s;
    for (const kind of peer.timers.due(now)) {
      switch (kind) {
        case "retransmit":
          actions.push(...sendInitiation(s, peer, now, true));
          break;
        case "give-up":
          dropInitiation(s, peer);
          actions.push({ type: "handshake-failed", peer: peer.slot });
          break;
        case "new-handshake":
          actions.push(...sendInitiation(s, peer, now, false));
          break;
        case "keepalive":
        case "persistent-keepalive":
          actions.push(...sendKeepalive(s, peer, now));
          break;
        case "zero-keys":
          resetSessions(s, peer, now);
          s.keypairs.collectAll();
          actions.push({ type: "keys-zeroed", peer: peer.slot });
          break;
      }
    }
    for (const slot of peer.ownedSlots) {
      if (now - keypairCreatedAt(s.tables, slot) >= REJECT_AFTER_TIME) s.keypairs.expire(slot);
    }
  }

  /** The earliest time tick() has work to do (timers only; poll at least every POLL_INTERVAL); -Infinity while a tick left timers to run. */
  nextDeadline(): number {
    if (this.resumeAt >= 0 && this.s.peersBySlot.has(this.resumeAt)) return -Infinity;
    let at = Infinity;
    for (const peer of this.s.peersBySlot.values()) {
      at = Math.min(at, peer.timers.nextDeadline());
      for (const slot of peer.ownedSlots) {
        if ((keypairFlags(this.s.tables, slot) & KP_EXPIRED) === 0) at = Math.min(at, keypairCreatedAt(this.s.tables, slot) + REJECT_AFTER_TIME);
      }
    }
    return at;
  }

  /** Figures of every peer, for `show` and the UAPI. */
  peerStats(): PeerStats[] {
    const s = this.s;
    return [...s.peersBySlot.values()].map((p) => {
      // Workers move endpoints between ticks: report where the peer is now.
      if (endpointSequence(s.tables, p.slot) !== p.polled.endpointSeq) pollEndpoint(s, p);
      return {
        slot: p.slot,
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: s.allowedIps.prefixesOf(p.slot),
        lastHandshake: p.lastHandshakeWall,
        ...transferred(s.tables, p.slot),
        persistentKeepalive: p.timers.persistentInterval / 1000,
      };
    });
  }
}
