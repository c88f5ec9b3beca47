/**
 * One worker's packet path, a batch at a time, allocating nothing:
 *
 *   UDP -> recvmmsg -> handshakes through the gate (handshake-intake.ts): to the control
 *       plane's rings, or a cookie reply under load; data: openBatch (WASM)
 *       -> replay/source checks -> TUN write, or re-seal for another peer (relay) -> sendmmsg
 *   TUN -> read batch -> route by destination (allowed IPs) -> sealBatch (WASM) -> sendmmsg
 *
 * Each arrow that crosses into C or WASM is one call per batch, never one per packet. The
 * io-shim control blocks are set up by io-controls.ts; sealing and sending, shared by
 * both directions and the staged packets, is seal-send.ts.
 *
 * UDP offload, when the socket has it: a GRO train (several datagrams the kernel merged)
 * is cut back into one slot per datagram inside io-shim's recv call, before prepareOpen, so
 * nothing after it knows trains exist; and sends coalesce runs of same-peer, same-size
 * packets (a TUN super-packet, sealed) into one UDP_SEGMENT message.
 *
 * Sticky sources: recvmmsg reports where each datagram arrived; the peer's slot keeps the
 * local address of its latest authentic packet beside its endpoint (finishOpen), and every
 * packet sent to a peer carries that address as its source (copyEndpoint), so replies leave
 * from the address the peer reached us at. When the host loses that address, io-shim sends
 * from the kernel's choice instead and says so; the peer then forgets it (refused-sources.ts).
 */
import { type BatchControl, SEND_COALESCE } from "@taltun/io-shim";
import type { AeadInstance } from "@taltun/wasm-crypto";
import { lookupPacket } from "../tables/allowed-ips.js";
import { COOKIE_REPLY_SIZE, INITIATION_SIZE, RESPONSE_SIZE } from "../protocol/constants.js";
import { finishOpen, isHandshakeMessage, prepareOpen } from "../transport/open.js";
import { CURRENT, keypairOf, LOCAL_BYTES, peerGeneration } from "../tables/peer-slot.js";
import { ENDPOINT_BYTES, type SharedTables } from "../tables/shared-tables.js";
import { createTransportBatch, RX_DROP_NAMES, type TransportBatch } from "../transport/batch.js";
import { sharedBuffer } from "./memory-layout.js";
import type { HandshakeRing } from "./ring.js";
import type { BatchIo } from "./batch-io.js";
import { BATCH, HEADROOM, type WorkerRegions } from "./regions.js";
import { Staging } from "./staging.js";
import { HandshakeIntake } from "./handshake-intake.js";
import { setupControls } from "./io-controls.js";
import { SealSender } from "./seal-send.js";
import { writeTun } from "./tun-write.js";
import { RX_DROPS_FIRST, STAT } from "./stats.js";

/** What a datapath needs: shared memory views, its regions, and its file descriptors. */
export interface DatapathOptions {
  memory: WebAssembly.Memory;
  tables: SharedTables;
  aead: AeadInstance;
  regions: WorkerRegions;
  ring: HandshakeRing;
  /** The ring for handshakes we know (handshake-guard.ts), drained first by the control plane. */
  priority: HandshakeRing;
  udpFd: number;
  tunFd: number;
  /** The TUN queue carries a virtio-net header: reads are segmented, writes get a header. */
  tunVnet: boolean;
  /** The socket has UDP_SEGMENT: runs of same-peer, same-size packets leave as one GSO message. */
  udpGso?: boolean;
  /** The socket has UDP_GRO: datagrams arrive in trains, cut back into one slot each in the GRO area. */
  udpGro?: boolean;
  /** The tunnel MTU at start (padding never exceeds it); {@link Datapath.setMtu} changes it. */
  mtu: number;
  /**
   * The interface's own address (4 or 16 bytes): packets to it always go to the TUN, and
   * packets from one peer to another are relayed in user space. Null: no user-space relay,
   * every delivered packet goes to the TUN and the kernel forwards it, as wireguard-go does.
   */
  localAddress: Uint8Array | null;
  /** Called when the control plane has work: a handshake message in the ring, or a packet waiting for a session. */
  signal: () => void;
  /** The batch calls: io-shim's ({@link shimIo}) in a worker, an in-memory fake in tests. */
  io: BatchIo;
}

/** Offsets of the destination address in IPv4 and IPv6 headers (RFC 791, RFC 8200). */
const IPV4_DST = 16;
const IPV6_DST = 24;
/** What reads from a TUN fd answer once its device was deleted. */
const EBADFD = 77;
const ENODEV = 19;
/** The one size of each handshake message, by type (whitepaper §5.4). */
const HANDSHAKE_SIZE = [0, INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE];

export class Datapath {
  /** The current allowed-IPs snapshot; the worker swaps it when the control plane publishes one. */
  allowedIps: Int32Array;
  private readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  private readonly stats: number;
  private readonly recv: BatchControl;
  private readonly tunWrite: BatchControl;
  private readonly relaySend: BatchControl;
  private readonly tunRead: BatchControl;
  private readonly send: BatchControl;
  private readonly rx: TransportBatch;
  private readonly relay: TransportBatch;
  private readonly tx: TransportBatch;
  private readonly rxLengths: Uint32Array;
  private readonly tunWriteLengths: Uint32Array;
  private readonly relayLengths: Uint32Array;
  private readonly txLengths: Uint32Array;
  /** Packet index (slot) of each compacted relay/tx entry. */
  private readonly relaySlot = new Int32Array(BATCH);
  private readonly txSlot = new Int32Array(BATCH);
  private readonly staging: Staging;
  private readonly intake: HandshakeIntake;
  private readonly sender: SealSender;

  constructor(private readonly o: DatapathOptions, allowedIps: Int32Array) {
    this.allowedIps = allowedIps;
    const { memory, regions: r } = o;
    const buf = sharedBuffer(memory);
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
    this.stats = r.stats >> 2;
    const u32 = (at: number) => new Uint32Array(buf, at, BATCH);
    this.rxLengths = u32(r.rxLengths);
    this.tunWriteLengths = u32(r.tunWriteLengths);
    this.relayLengths = u32(r.relayLengths);
    this.txLengths = u32(r.txLengths);

    const stride = r.slotStride;
    const sendFlags = o.udpGso ? SEND_COALESCE : 0;
    const c = setupControls(memory, r, o, sendFlags);
    this.recv = c.recv;
    this.tunWrite = c.tunWrite;
    this.relaySend = c.relaySend;
    this.tunRead = c.tunRead;
    this.send = c.send;

    this.intake = new HandshakeIntake({
      memory, tables: o.tables, regions: r, ring: o.ring, priority: o.priority, udpFd: o.udpFd, io: o.io, signal: o.signal,
      count: (stat, n) => this.count(stat, n),
    });
    this.staging = new Staging(this.u8, r.stage, stride);
    this.sender = new SealSender({
      u8: this.u8, tables: o.tables, aead: o.aead, io: o.io, staging: this.staging, sendFlags, signal: o.signal,
      count: (stat, n) => this.count(stat, n),
    });
    this.rx = createTransportBatch(BATCH, r.openDescs, o.mtu, new Int32Array(buf, r.stats + RX_DROPS_FIRST * 4, RX_DROP_NAMES.length));
    this.relay = createTransportBatch(BATCH, r.relayDescs, o.mtu);
    this.tx = createTransportBatch(BATCH, r.sealDescs, o.mtu);
    for (let i = 0; i < BATCH; i++) {
      this.rx.data[i] = r.rxPool + i * stride;
      this.rx.sources[i] = r.rxAddrs + i * ENDPOINT_BYTES;
      this.rx.locals[i] = r.rxLocals + i * LOCAL_BYTES;
    }
  }

  /** Padding follows the TUN's MTU when it is changed from outside. */
  setMtu(mtu: number): void {
    this.rx.mtu = this.relay.mtu = this.tx.mtu = mtu;
  }

  /** Sends and receives on socket `fd` from now on (the listen port was changed). */
  setUdpFd(fd: number): void {
    this.recv.fd = this.relaySend.fd = this.send.fd = fd;
    this.intake.setUdpFd(fd);
  }

  /** Whether the inner packet at `at` is addressed to this interface's own address. */
  private isLocal(at: number, local: Uint8Array): boolean {
    const u8 = this.u8;
    const dst = at + (local.length === 4 ? IPV4_DST : IPV6_DST);
    if (u8[at] >> 4 !== (local.length === 4 ? 4 : 6)) return false;
    for (let k = 0; k < local.length; k++) if (u8[dst + k] !== local[k]) return false;
    return true;
  }

  private count(stat: number, n = 1): void {
    Atomics.add(this.i32, this.stats + stat, n);
  }

  /**
   * Reads one batch of datagrams and processes it. Returns how many arrived (0: none
   * waiting). A full batch may leave segments of a GRO train in the GRO area, which the
   * socket's readiness no longer announces: call again while it returns BATCH (the
   * worker's burst loop does), and it returns 0 only when nothing is held.
   */
  pollUdp(now: number): number {
    const recv = this.recv;
    recv.count = BATCH;
    const n = this.o.io.udpRecv(recv);
    this.count(STAT.ioCalls);
    if (this.o.udpGro) {
      const truncated = recv.truncated, trains = recv.trains;
      if (truncated > 0) this.count(STAT.droppedTruncated, truncated);
      if (trains > 0) this.count(STAT.groTrains, trains);
    }
    if (n <= 0) return 0;
    this.count(STAT.udpDatagrams, n);
    this.fromNetwork(n, now);
    return n;
  }

  /**
   * Reads one batch of packets from the TUN and sends them. Returns how many were read, or
   * -1 when the TUN device is gone (deleted under us: the worker must stop, not spin).
   */
  pollTun(now: number): number {
    this.tunRead.count = BATCH;
    const n = this.o.io.tunRead(this.tunRead);
    this.count(STAT.ioCalls);
    if (n === -EBADFD || n === -ENODEV) return -1;
    if (n <= 0) return 0;
    this.count(STAT.tunPackets, n);
    this.fromTunnel(n, now);
    return n;
  }

  /**
   * Sends the staged packets whose peers now have a session (the control plane wakes the
   * worker when one is installed). Returns how many left the queue.
   */
  flushStaged(now: number): number {
    if (this.staging.count === 0) return 0;
    const { tx, u8 } = this;
    const base = this.o.regions.txPool + HEADROOM;
    let k = 0;
    const t = this.o.tables;
    this.staging.drain((src, length, peer, generation) => {
      if (peerGeneration(t, peer) !== generation) {
        this.count(STAT.droppedNoSession); // its peer was removed
        return true;
      }
      if (k === BATCH || keypairOf(t, peer, CURRENT) < 0) return false;
      const at = base + k * this.o.regions.slotStride;
      u8.copyWithin(at, src, src + length);
      tx.data[k] = at;
      tx.lengths[k] = length;
      tx.peers[k] = peer;
      this.txSlot[k] = k;
      k++;
      return true;
    });
    if (k > 0) this.sender.sealAndSend(tx, k, this.txSlot, this.txLengths, this.o.regions.txAddrs, this.o.regions.txLocals, this.send, k, now, STAT.sent);
    return k;
  }

  private fromNetwork(n: number, now: number): void {
    const { u8, rx, o } = this;
    const lengths = this.rxLengths;
    for (let i = 0; i < n; i++) {
      const d = rx.data[i];
      const len = lengths[i];
      rx.lengths[i] = len;
      if (!isHandshakeMessage(u8, d, len)) continue;
      // The control plane's, or answered here: prepareOpen skips these uncounted.
      if (len !== HANDSHAKE_SIZE[u8[d]]) this.count(STAT.droppedHandshakeSize);
      else this.intake.take(d, len, rx.sources[i], rx.locals[i], now);
    }
    this.intake.flush();
    rx.count = n;
    // Fail closed: prepareOpen clears every slot, finishOpen gives a length back only to a
    // packet that authenticated, passed the replay window and came from an allowed IP.
    const m = prepareOpen(o.tables, rx, now);
    if (m === 0) return;
    o.aead.openBatch(rx.descPtr, m);
    this.count(STAT.aeadCalls);
    if (finishOpen(o.tables, rx, m, this.allowedIps) === 0) return;

    // Route each delivered packet: to another peer (relay), or to this host (TUN).
    let relays = 0;
    let toTun = 0;
    for (let i = 0; i < n; i++) {
      const len = rx.lengths[i];
      const from = rx.peers[i];
      this.tunWriteLengths[i] = 0;
      if (len === 0 || from < 0) continue;
      const inner = rx.data[i] + HEADROOM;
      // To another peer: relay in user space. To us, or to nobody we know: the kernel decides.
      const local = this.o.localAddress;
      const dst = !local || this.isLocal(inner, local) ? -1 : lookupPacket(this.allowedIps, u8, inner, len, "destination");
      if (dst < 0 || dst === from) {
        this.tunWriteLengths[i] = len;
        toTun++;
      } else {
        this.relay.data[relays] = inner;
        this.relay.lengths[relays] = len;
        this.relay.peers[relays] = dst;
        this.relaySlot[relays++] = i;
      }
    }
    if (toTun > 0) writeTun(this.o.io, this.tunWrite, this.tunWriteLengths, n, toTun, this.i32, this.stats);
    if (relays > 0) {
      const r = this.o.regions;
      this.sender.sealAndSend(this.relay, relays, this.relaySlot, this.relayLengths, r.relayAddrs, r.relayLocals, this.relaySend, n, now, STAT.relayed);
    }
  }

  private fromTunnel(n: number, now: number): void {
    const { u8, tx } = this;
    const lengths = this.txLengths;
    const base = this.o.regions.txPool + HEADROOM;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const at = base + i * this.o.regions.slotStride;
      const len = lengths[i];
      const peer = len > 0 ? lookupPacket(this.allowedIps, u8, at, len, "destination") : -1;
      if (peer < 0) {
        this.count(STAT.droppedNoRoute);
        continue;
      }
      tx.data[k] = at;
      tx.lengths[k] = len;
      tx.peers[k] = peer;
      this.txSlot[k++] = i;
    }
    if (k > 0) this.sender.sealAndSend(tx, k, this.txSlot, lengths, this.o.regions.txAddrs, this.o.regions.txLocals, this.send, n, now, STAT.sent);
    else lengths.fill(0, 0, n);
  }
}
