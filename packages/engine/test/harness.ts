/**
 * Test harness: two (or more) Devices on ONE shared memory, each with a data plane that
 * uses the real batch transport path (prepareSeal/sealBatch, prepareOpen/openBatch/
 * finishOpen) exactly as a worker would, and a virtual network between them.
 */
import { createSharedMemory, HEAP_BASE, instantiateAead, SCRATCH_BYTES, type AeadBatch } from "../src/protocol/aead.js";
import { ManualClock } from "../src/protocol/clock.js";
import { generatePrivateKey, publicKeyOf } from "../src/protocol/dh.js";
import { Device, deviceRegionSize, type DeviceAction, type DeviceOptions } from "../src/device/device.js";
import { parseEndpoint, type EndpointRecord } from "../src/tables/endpoint.js";
import { messageType } from "../src/protocol/messages.js";
import { ENDPOINT_BYTES } from "../src/tables/shared-tables.js";
import { finishOpen, prepareOpen } from "../src/transport/open.js";
import { prepareSeal } from "../src/transport/seal.js";
import { createTransportBatch, type TransportBatch } from "../src/transport/batch.js";

const STRIDE = 2048;
const BATCH = 64;
const align = (n: number) => (n + 63) & ~63;

/** A worker's view: its own packet slots, descriptors and AEAD instance on the shared memory. */
export class DataPlane {
  readonly batch: TransportBatch;
  private readonly aead: AeadBatch;
  private readonly u8: Uint8Array;
  private readonly slots: number;
  private readonly sourceRecord: number;

  constructor(
    readonly device: Device,
    memory: WebAssembly.Memory,
    base: number,
  ) {
    this.u8 = new Uint8Array(memory.buffer);
    this.batch = createTransportBatch(BATCH, base);
    this.slots = align(base + BATCH * 24);
    this.sourceRecord = this.slots + BATCH * STRIDE;
    this.aead = instantiateAead(memory, this.sourceRecord + 64);
  }

  static bytes(): number {
    // The AEAD instance's scratch takes SCRATCH_BYTES after the source record, as the
    // package requires (4096 happened to be enough before quads used more of it).
    return align(BATCH * 24) + BATCH * STRIDE + 64 + SCRATCH_BYTES;
  }

  /** Seal payloads for `peer`; null where no keypair could be used. */
  seal(peer: number, payloads: Uint8Array[], now: number): (Uint8Array | null)[] {
    const b = this.batch;
    b.count = payloads.length;
    payloads.forEach((p, i) => {
      b.data[i] = this.slots + i * STRIDE + 16;
      b.lengths[i] = p.length;
      b.peers[i] = peer;
      this.u8.set(p, b.data[i]);
    });
    const n = prepareSeal(this.device.tables, b, now);
    this.aead.sealBatch(b.descPtr, n);
    return payloads.map((_, i) => (b.lengths[i] ? this.u8.slice(b.data[i] - 16, b.data[i] - 16 + b.lengths[i]) : null));
  }

  /** Open datagrams from `source`; per datagram the inner packet (or null) and the peer (-1 = dropped). */
  open(datagrams: Uint8Array[], source: EndpointRecord, now: number): { peer: number; packet: Uint8Array | null }[] {
    const b = this.batch;
    b.count = datagrams.length;
    this.u8.set(source, this.sourceRecord);
    datagrams.forEach((d, i) => {
      b.data[i] = this.slots + i * STRIDE;
      b.lengths[i] = d.length;
      b.sources[i] = this.sourceRecord;
      this.u8.set(d, b.data[i]);
    });
    const n = prepareOpen(this.device.tables, b, now);
    this.aead.openBatch(b.descPtr, n);
    finishOpen(this.device.tables, b, n, this.device.allowedIps.snapshot);
    return datagrams.map((_, i) => ({ peer: b.peers[i], packet: b.lengths[i] ? this.u8.slice(b.data[i] + 16, b.data[i] + 16 + b.lengths[i]) : null }));
  }
}

/** An IPv4 packet from `src` to `dst` with `payload` bytes of body. */
export function ipv4(src: string, dst: string, payload = 0, fill = 0): Uint8Array {
  const p = new Uint8Array(20 + payload).fill(fill);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = (20 + payload) >> 8;
  p[3] = (20 + payload) & 255;
  p.set(src.split(".").map(Number), 12);
  p.set(dst.split(".").map(Number), 16);
  return p;
}

/** One side of the simulation. */
export interface Node {
  name: string;
  device: Device;
  plane: DataPlane;
  endpoint: EndpointRecord;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  vip: string;
  /** Handshake/keepalive datagrams this node's device sent, with the virtual time. */
  sent: { at: number; action: Extract<DeviceAction, { type: "send" }> }[];
  /** Non-send actions seen. */
  events: { at: number; action: DeviceAction }[];
  /** Inner packets delivered to this node's tunnel. */
  delivered: Uint8Array[];
}

/** Two or more nodes on one shared memory and a lossless virtual network. */
export class World {
  readonly clock = new ManualClock();
  readonly memory = createSharedMemory(32 * 1024 * 1024);
  readonly nodes: Node[] = [];
  /** Datagrams in flight: delivered by pump(). */
  inflight: { to: Node; from: EndpointRecord; bytes: Uint8Array }[] = [];
  /** Drop everything addressed to these nodes (a peer that never answers). */
  blackhole = new Set<string>();
  private next = HEAP_BASE;

  /** Reserves `bytes` of the shared memory for a test's own regions (64-aligned). */
  reserve(bytes: number): number {
    const at = this.next;
    this.next = align(at + bytes);
    return at;
  }

  addNode(name: string, vip: string, opts: Partial<DeviceOptions> = {}): Node {
    const privateKey = generatePrivateKey();
    const base = this.next;
    const device = new Device({ privateKey, memory: this.memory, base, clock: this.clock, jitter: () => 0, ...opts });
    const planeBase = align(base + deviceRegionSize());
    this.next = align(planeBase + DataPlane.bytes());
    const node: Node = {
      name,
      device,
      plane: new DataPlane(device, this.memory, planeBase),
      endpoint: parseEndpoint(`198.18.0.${this.nodes.length + 1}:51820`),
      privateKey,
      publicKey: publicKeyOf(privateKey),
      vip,
      sent: [],
      events: [],
      delivered: [],
    };
    this.nodes.push(node);
    return node;
  }

  /** Make `a` and `b` peers of each other (each knows the other's endpoint). */
  connect(a: Node, b: Node, extra: { persistentKeepalive?: number; psk?: Uint8Array } = {}): void {
    a.device.addPeer({ publicKey: b.publicKey, endpoint: b.endpoint, allowedIps: [`${b.vip}/32`], persistentKeepalive: extra.persistentKeepalive, presharedKey: extra.psk });
    b.device.addPeer({ publicKey: a.publicKey, endpoint: a.endpoint, allowedIps: [`${a.vip}/32`], presharedKey: extra.psk });
  }

  slotOf(at: Node, peer: Node): number {
    return at.device.peerSlot(peer.publicKey);
  }

  nodeAt(endpoint: EndpointRecord): Node | undefined {
    return this.nodes.find((n) => Buffer.compare(n.endpoint.subarray(0, ENDPOINT_BYTES), endpoint.subarray(0, ENDPOINT_BYTES)) === 0);
  }

  /** Record and route a node's actions. */
  apply(from: Node, actions: DeviceAction[]): void {
    for (const action of actions) {
      if (action.type !== "send") {
        from.events.push({ at: this.clock.now(), action });
        continue;
      }
      from.sent.push({ at: this.clock.now(), action });
      const to = this.nodeAt(action.endpoint);
      if (to && !this.blackhole.has(to.name)) this.inflight.push({ to, from: from.endpoint, bytes: action.bytes });
    }
  }

  /** Send data from `a` to `b` through a's data plane; sealed datagrams go in flight. Returns how many were sealed. */
  sendData(a: Node, b: Node, packets: Uint8Array[]): number {
    const out = a.plane.seal(this.slotOf(a, b), packets, this.clock.now());
    let n = 0;
    for (const d of out) {
      if (!d) continue;
      n++;
      if (!this.blackhole.has(b.name)) this.inflight.push({ to: b, from: a.endpoint, bytes: d });
    }
    return n;
  }

  /** Deliver everything in flight (and what that causes) until the network is quiet. */
  pump(): void {
    while (this.inflight.length) {
      const { to, from, bytes } = this.inflight.shift()!;
      const now = this.clock.now();
      if (messageType(bytes) === 4) {
        for (const r of to.plane.open([bytes], from, now)) if (r.packet) to.delivered.push(r.packet);
      } else this.apply(to, to.device.handleHandshakeMessage(bytes, from, now));
    }
  }

  /** Tick every device at the current time and pump. */
  tick(): void {
    for (const n of this.nodes) this.apply(n, n.device.tick(this.clock.now()));
    this.pump();
  }

  /** Advance virtual time in `step` ms increments, ticking and pumping, for `ms`. */
  run(ms: number, step = 100, each?: () => void): void {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(step, end - this.clock.now()));
      each?.();
      this.tick();
    }
  }
}
