/**
 * Starting the parts of a live interface in order, from a plan that both `taltun up` (a
 * TOML configuration) and `taltun-wg` (an empty device configured through the UAPI) make:
 * the shared memory, the Device, the TUN device, the sockets, the workers and the control
 * loop. A step that fails undoes the ones before it.
 * @module
 */
import { Worker } from "node:worker_threads";
import { closeFd, eventfdOpen, eventfdWrite, loadIoShim } from "@taltun/io-shim";
import { compileAeadModule, createSharedMemory, HEAP_BASE } from "@taltun/wasm-crypto";
import { MemoryLayout, sharedBuffer } from "../dataplane/memory-layout.js";
import { reserveWorkerRegions, workerRegionBytes, type WorkerRegions } from "../dataplane/regions.js";
import { HandshakeRing, ringBytes } from "../dataplane/ring.js";
import { sumStats } from "../dataplane/stats.js";
import type { WorkerData } from "../dataplane/worker.js";
import { Device, type DeviceAction, deviceRegionSize } from "../device/device.js";
import type { PeerChange } from "../device/peer.js";
import { tableCapacity } from "../tables/shared-tables.js";
import type { Logger } from "../log/log.js";
import { ControlLoop } from "./control-loop.js";
import { ControlSender } from "./sender.js";
import { FULL_TUNNEL_MARK, fullTunnel } from "./policy-routing.js";
import { UdpSockets } from "./sockets.js";
import { openTunDevice, type TunDevice } from "./tun-device.js";

const RING_SLOTS = 256;
/** The priority ring holds what belongs to handshakes we know; a flood never gets in it. */
const PRIORITY_RING_SLOTS = 64;
/** The control plane's own regions (its sender, shared words) and alignment, with room to spare. */
const CONTROL_BYTES = 64 << 10;

/** What to start. */
export interface LaunchPlan {
  tunName: string;
  workers: number;
  /** The MTU the TUN device is given. */
  mtu: number;
  /** The largest MTU packet slots are sized for (>= mtu; more when the MTU may be raised from outside). */
  maxMtu: number;
  /** `address/prefix` given to the device, which is then brought up; null leaves it bare and down. */
  address: string | null;
  routes: readonly string[];
  /** The address families routed entirely through the tunnel (a peer holds 0.0.0.0/0 or ::/0). */
  fullTunnel: readonly (4 | 6)[];
  privateKey: Uint8Array | null;
  listen: { host: string; port: number };
  peers: readonly PeerChange[];
  /** Peers the tables have room for. */
  peerCapacity: number;
  /** The interface's own address bytes, for user-space relay between peers; null: the kernel forwards. */
  relayAddress: Uint8Array | null;
}

/** What runs once a plan was carried out. */
export interface LaunchedParts {
  device: Device;
  buffer: SharedArrayBuffer;
  i32: Int32Array;
  regions: WorkerRegions[];
  tun: TunDevice;
  sockets: UdpSockets;
  sender: ControlSender;
  workers: Worker[];
  wakeFds: number[];
  loop: ControlLoop;
  words: { stop: number; mtu: number; tunGone: number };
  /** Hands the device's current allowed-IPs snapshot to the workers if it changed. */
  publish: () => void;
  /** Undoes the TUN device, sockets and eventfds (after the workers and the loop stopped). */
  undo: () => void;
}

/**
 * Starts what `plan` says. `afterRound` runs after every round of the control loop with
 * the actions of that round.
 */
export function launch(plan: LaunchPlan, logger: Logger, afterRound: (actions: readonly DeviceAction[]) => void): LaunchedParts {
  loadIoShim();
  const capacity = tableCapacity(plan.peerCapacity);
  // Sized for what it holds: the tables, and each worker's slots for the largest MTU.
  const perWorker = workerRegionBytes(plan.maxMtu) + ringBytes(RING_SLOTS) + ringBytes(PRIORITY_RING_SLOTS) + 128;
  const memory = createSharedMemory(HEAP_BASE + deviceRegionSize(capacity) + plan.workers * perWorker + CONTROL_BYTES);
  const buffer = sharedBuffer(memory);
  const i32 = new Int32Array(buffer);
  const layout = new MemoryLayout(HEAP_BASE, buffer.byteLength);
  const device = new Device({ memory, base: layout.reserve("device", deviceRegionSize(capacity), 8), capacity, privateKey: plan.privateKey ?? undefined, mtu: plan.mtu });
  for (const p of plan.peers) device.addPeer(p);
  const names = ["doorbell", "stop", "snapshot", "mtu", "tunGone"] as const;
  const base = layout.reserve("control.words", 4 * names.length, 8) >> 2;
  const words = Object.fromEntries(names.map((n, i) => [n, base + i])) as Record<(typeof names)[number], number>;
  Atomics.store(i32, words.mtu, plan.mtu);
  const ringOffsets = Array.from({ length: plan.workers }, (_, i) => layout.reserve(`ring${i}`, ringBytes(RING_SLOTS)));
  const rings = ringOffsets.map((offset) => new HandshakeRing(buffer, offset, RING_SLOTS));
  const priorityOffsets = Array.from({ length: plan.workers }, (_, i) => layout.reserve(`priorityRing${i}`, ringBytes(PRIORITY_RING_SLOTS)));
  const priorityRings = priorityOffsets.map((offset) => new HandshakeRing(buffer, offset, PRIORITY_RING_SLOTS));
  const regions = Array.from({ length: plan.workers }, (_, i) => reserveWorkerRegions(layout, i, plan.maxMtu));

  const cleanups: Array<() => void> = [];
  const undo = () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        c();
      } catch (e) {
        logger.warn("cleanup step failed", { error: (e as Error).message });
      }
    }
  };
  try {
    const tun = openTunDevice({ name: plan.tunName, queues: plan.workers, address: plan.address, mtu: plan.mtu, routes: plan.routes }, logger);
    cleanups.push(() => tun.close());
    const sockets = UdpSockets.open(plan.listen.host, plan.listen.port, plan.workers);
    cleanups.push(() => sockets.close());
    if (!sockets.gso || !sockets.gro) logger.warn("UDP segmentation offload unavailable (UDP_SEGMENT / UDP_GRO), sending and receiving datagram by datagram");
    if (plan.fullTunnel.length > 0) {
      sockets.setMark(FULL_TUNNEL_MARK);
      cleanups.push(fullTunnel(tun.name, plan.fullTunnel, FULL_TUNNEL_MARK, plan.address, logger));
    }
    const wakeFds = sockets.fds.map(() => eventfdOpen());
    cleanups.push(() => wakeFds.forEach(closeFd));
    const sender = new ControlSender(memory, layout, sockets.fds[0]);
    logger.debug("shared memory laid out", { used_bytes: layout.used, size_bytes: buffer.byteLength });

    const module = compileAeadModule();
    const workers = regions.map((r, index) => {
      const data: WorkerData = {
        index, memory, module, regions: r, tablesBase: device.tables.base, ringBase: ringOffsets[index], priorityRingBase: priorityOffsets[index],
        doorbell: words.doorbell, stopWord: words.stop, snapshotWord: words.snapshot, mtuWord: words.mtu, tunGoneWord: words.tunGone,
        udpFd: sockets.fds[index], tunFd: tun.fds[index], wakeFd: wakeFds[index], tunVnet: tun.offload, mtu: plan.mtu,
        udpGso: sockets.gso, udpGro: sockets.gro,
        localAddress: plan.relayAddress, allowedIps: device.allowedIps.snapshot, timeOrigin: performance.timeOrigin,
      };
      return new Worker(new URL("./worker.js", import.meta.url), { workerData: data });
    });
    let published = device.allowedIps.snapshot;
    const publish = () => {
      const snapshot = device.allowedIps.snapshot;
      if (snapshot === published) return;
      published = snapshot;
      workers.forEach((w) => w.postMessage({ type: "allowed-ips", snapshot }));
      Atomics.add(i32, words.snapshot, 1);
      wakeFds.forEach((fd) => eventfdWrite(fd));
    };
    const absorbed = () => {
      const t = sumStats(buffer, regions.map((r) => r.stats));
      return t.cookieReplies + t.rejectedRateLimit + t.droppedRingFull;
    };
    const loop = new ControlLoop({ device, rings, priorityRings, absorbed, i32, doorbell: words.doorbell, sender, logger, afterRound });
    return { device, buffer, i32, regions, tun, sockets, sender, workers, wakeFds, loop, words, publish, undo };
  } catch (e) {
    undo();
    throw e;
  }
}
