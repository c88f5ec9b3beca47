/**
 * The control plane of one WireGuard interface, as one facade: configuration, handshakes
 * (as initiator and responder), cookies under load, timers, keypair rotation and stats.
 * Pure: no I/O, no setTimeout. The data plane feeds it handshake datagrams and calls
 * {@link Device.tick} at {@link Device.nextDeadline} (and at least every POLL_INTERVAL, so
 * events the workers record in the shared tables are seen); it returns actions to carry
 * out (datagrams to send, sessions installed, failures). The work itself is done on the
 * state record of state.ts by identity.ts (our key), peer-config.ts (peers added and
 * removed), handshake.ts, session.ts, tick.ts with poll.ts (timers and the workers'
 * counters) and stats.ts.
 * @module
 */
import { HEAP_BASE, instantiateAead, SCRATCH_BYTES } from "../protocol/aead.js";
import { systemClock, type Clock } from "../protocol/clock.js";
import { TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { HandshakeError, type HandshakeErrorCode, LayoutError } from "../protocol/errors.js";
import { IndexTable } from "../protocol/index-table.js";
import { LoadDetector, RateLimiter } from "../protocol/ratelimiter.js";
import { AllowedIps } from "../tables/allowed-ips.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import { KeypairStore } from "../tables/keypair-store.js";
import { requestHandshake } from "../tables/peer-slot.js";
import { lookupIndex } from "../tables/receiver-index.js";
import { SharedTables, sharedTablesSize, type TableCapacity } from "../tables/shared-tables.js";
import { createTransportBatch } from "../transport/batch.js";
import type { DeviceAction } from "./actions.js";
import { handleHandshake } from "./handshake.js";
import { closeDevice, refreshCookieSecret, setPrivateKey } from "./identity.js";
import { noteHandshakes, RING_LOAD_FRACTION } from "./load.js";
import type { Peer, PeerChange } from "./peer.js";
import { addPeer, holdChanges, newPeerSlots, type PeerSlots, removePeer } from "./peer-config.js";
import { DEVICE_PACKET_BYTES, encodeTransport, sendInitiation } from "./session.js";
import { type DeviceState, keyId } from "./state.js";
import { handshakeCounts, peerStats, type PeerStats } from "./stats.js";
import { nextDeadline, tick, type TickCursor } from "./tick.js";

export type { DeviceAction } from "./actions.js";
export type { PeerStats } from "./stats.js";
export { POLL_INTERVAL, TICK_INITIATIONS } from "./tick.js";

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
  private readonly slots: PeerSlots;
  private readonly cursor: TickCursor = { resumeAt: -1 };

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
    this.slots = newPeerSlots(capacity.peers);
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
    setPrivateKey(this.s, privateKey);
  }

  /**
   * Shut down: every keypair and pending handshake is dropped and zeroed at once, and so
   * are our private key and each peer's preshared key and precomputed static-static DH.
   * The device must not be used afterwards.
   */
  close(): void {
    closeDevice(this.s);
  }

  /** Add a peer, or change the one with this public key. Returns its slot number. */
  addPeer(change: PeerChange): number {
    return addPeer(this.s, this.slots, change);
  }

  /** Remove a peer: its sessions are retired, its allowed IPs dropped, its slot freed. */
  removePeer(publicKey: Uint8Array): void {
    removePeer(this.s, this.slots, publicKey);
  }

  /**
   * Hold (true) or release (false) what the data plane sees of a change made in steps (a
   * long UAPI request applied in parts): while held, the allowed-IPs snapshot stays the one
   * the workers have, and the slot of a peer removed meanwhile is not given to a new peer
   * (the workers' snapshot may still route to it). On release both catch up: the next
   * snapshot has the whole change, and the slots are free again.
   */
  holdChanges(on: boolean): void {
    holdChanges(this.s, this.slots, on);
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
    refreshCookieSecret(this.s, now);
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
    return handshakeCounts(this.s);
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
    return tick(this.s, this.cursor, now);
  }

  /** The earliest time tick() has work to do (timers only; poll at least every POLL_INTERVAL); -Infinity while a tick left timers to run. */
  nextDeadline(): number {
    return nextDeadline(this.s, this.cursor);
  }

  /** Figures of every peer, for `show` and the UAPI. */
  peerStats(): PeerStats[] {
    return peerStats(this.s);
  }
}
