/**
 * A running Taltun interface: the one object between a validated configuration and a live
 * tunnel (TUN device, UDP sockets, data-plane workers, control loop, UAPI socket). It
 * starts them in order, undoes what it started when a step fails, applies a new
 * configuration to the running tunnel (only what changed), and stops them all.
 * @module
 */
import { Worker } from "node:worker_threads";
import { closeFd, eventfdOpen, eventfdWrite, loadIoShim, udpOpen, type UdpSocket } from "@taltun/io-shim";
import { compileAeadModule, createSharedMemory, HEAP_BASE } from "@taltun/wasm-crypto";
import type { PeerConfig, TaltunConfig } from "../config/config.js";
import { MemoryLayout, sharedBuffer } from "../dataplane/memory-layout.js";
import { reserveWorkerRegions, workerRegionBytes, type WorkerRegions } from "../dataplane/regions.js";
import { HandshakeRing, ringBytes } from "../dataplane/ring.js";
import { sumStats, type StatName } from "../dataplane/stats.js";
import type { WorkerData } from "../dataplane/worker.js";
import { Device, type DeviceAction, deviceRegionSize, type PeerStats } from "../device/device.js";
import type { Logger } from "../log/log.js";
import { formatIpNet, ipFamily, ipNetContains, parseHostPort } from "../protocol/address.js";
import { ConfigError } from "../protocol/errors.js";
import { encodeKey, keysEqual } from "../protocol/keys.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { MAX_PEERS, tableCapacity } from "../tables/shared-tables.js";
import { uapiListen, type UapiServer } from "../uapi/uapi.js";
import { ControlLoop } from "./control-loop.js";
import { resolveEndpoint } from "./resolve.js";
import { ControlSender } from "./sender.js";
import { openTunDevice, type TunDevice } from "./tun-device.js";
import { uapiDevice } from "./uapi-device.js";

/** Options of `startInterface`. */
export interface StartOptions {
  /** Where the interface logs; the CLI builds it from `log_level` and `--log-format`. */
  readonly logger: Logger;
}

/** A running interface. */
export interface RunningInterface {
  /** The UDP port the interface listens on. */
  readonly listenPort: number;
  /** Data-plane counters summed over the workers (drops by reason, FFI and AEAD calls). */
  stats(): Record<StatName, number>;
  /** Figures of every peer (endpoint, handshake, transfer). */
  peerStats(): PeerStats[];
  /**
   * Applies a new configuration to the running tunnel: peers added, removed or changed
   * (sessions of unchanged peers, and of peers whose keys did not change, are kept), a new
   * private key, new routes. What needs a restart (interface name, address, MTU, listen
   * address, workers) is refused with a ConfigError naming the key, and nothing changes.
   */
  apply(config: TaltunConfig): Promise<void>;
  /** Stops the interface: workers, sockets, TUN device and the UAPI socket. */
  stop(): Promise<void>;
  /** Settles when the interface has stopped, by `stop()` or by a fatal error (rejects). */
  readonly done: Promise<void>;
}

const RING_SLOTS = 256;
/** The control plane's own regions (its sender, shared words) and alignment, with room to spare. */
const CONTROL_BYTES = 64 << 10;
const SOCKET_BUFFER = 8 << 20;
/** How long a worker may take to leave its loop once told to stop. */
const WORKER_STOP_MS = 1000;

/** Prefixes the kernel must route into the device: configured routes, and peers' allowed IPs beyond our own prefix. */
function tunnelRoutes(config: TaltunConfig, logger: Logger): string[] {
  const vip = config.interface.vip;
  const routes = new Set(config.interface.routes.map(formatIpNet));
  for (const p of config.peers) {
    for (const net of p.allowedIps) {
      if (ipNetContains(vip, net)) continue;
      // A default route through the tunnel would also capture the tunnel's own packets.
      if (net.prefix === 0) {
        logger.warn("not routing a default route into the tunnel; add routes = [...] for what you need", { allowed_ip: formatIpNet(net) });
        continue;
      }
      routes.add(formatIpNet(net));
    }
  }
  return [...routes];
}

/** The first interface key whose change a running tunnel cannot take, if any. */
function restartKey(a: TaltunConfig["interface"], b: TaltunConfig["interface"]): string | undefined {
  if (a.tunName !== b.tunName) return "tun_name";
  if (formatIpNet(a.vip) !== formatIpNet(b.vip)) return "vip";
  if (a.mtu !== b.mtu) return "mtu";
  if (a.localAddr.host !== b.localAddr.host || a.localAddr.port !== b.localAddr.port) return "local_addr";
  if (a.workers !== b.workers) return "workers";
  return undefined;
}

const peerId = (p: PeerConfig) => encodeKey(p.publicKey);
const sameNets = (a: PeerConfig, b: PeerConfig) => a.allowedIps.map(formatIpNet).join() === b.allowedIps.map(formatIpNet).join();
const samePsk = (a: PeerConfig, b: PeerConfig) => (a.presharedKey && b.presharedKey ? keysEqual(a.presharedKey, b.presharedKey) : a.presharedKey === b.presharedKey);

/** What `Interface` is built from, once every part has started. */
interface Parts {
  config: TaltunConfig;
  logger: Logger;
  device: Device;
  buffer: SharedArrayBuffer;
  regions: WorkerRegions[];
  tun: TunDevice;
  listenPort: number;
  workers: Worker[];
  loop: ControlLoop;
  i32: Int32Array;
  stopWord: number;
  wakeFds: number[];
  publish: () => void;
  hostNames: Map<number, string>;
  undo: () => void;
}

/** A running interface; start one with {@link startInterface}. */
export class Interface implements RunningInterface {
  readonly listenPort: number;
  readonly done: Promise<void>;
  private uapi: UapiServer | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(private readonly p: Parts) {
    this.listenPort = p.listenPort;
    const failed = new Promise<never>((_, reject) =>
      p.workers.forEach((w, i) => w.on("error", (e) => reject(new Error(`data-plane worker ${i} failed: ${e.message}`)))),
    );
    this.done = Promise.race([p.loop.done, failed]).then(
      () => this.stop(),
      async (e) => {
        await this.stop();
        throw e;
      },
    );
  }

  /**
   * Brings an interface up from a validated configuration and serves its UAPI socket on
   * `/var/run/wireguard/<tunName>.sock`. Needs root (or CAP_NET_ADMIN).
   */
  static async start(config: TaltunConfig, options: StartOptions): Promise<Interface> {
    const { logger } = options;
    const cfg = config.interface;
    loadIoShim();
    const endpoints = await Promise.all(config.peers.map((p) => (p.endpoint ? resolveEndpoint(p.endpoint) : null)));

    const capacity = tableCapacity(Math.max(MAX_PEERS, config.peers.length * 2)); // room for peers added at run time
    // Sized for what it holds: the tables, and each worker's slots for this MTU.
    const perWorker = workerRegionBytes(cfg.mtu) + ringBytes(RING_SLOTS) + 64;
    const memory = createSharedMemory(HEAP_BASE + deviceRegionSize(capacity) + cfg.workers * perWorker + CONTROL_BYTES);
    const buffer = sharedBuffer(memory);
    const i32 = new Int32Array(buffer);
    const layout = new MemoryLayout(HEAP_BASE, buffer.byteLength);
    const device = new Device({ memory, base: layout.reserve("device", deviceRegionSize(capacity), 8), capacity, privateKey: cfg.privateKey, mtu: cfg.mtu });
    config.peers.forEach((p, i) =>
      device.addPeer({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey ?? undefined,
        allowedIps: p.allowedIps.map(formatIpNet),
        endpoint: endpoints[i] ? parseEndpoint(endpoints[i]) : undefined,
        persistentKeepalive: p.persistentKeepalive,
      }),
    );
    const words = layout.reserve("control.words", 16, 8) >> 2;
    const doorbell = words;
    const stopWord = words + 1;
    const snapshotWord = words + 2;
    const ringOffsets = Array.from({ length: cfg.workers }, (_, i) => layout.reserve(`ring${i}`, ringBytes(RING_SLOTS)));
    const rings = ringOffsets.map((offset) => new HandshakeRing(buffer, offset, RING_SLOTS));
    const regions = Array.from({ length: cfg.workers }, (_, i) => reserveWorkerRegions(layout, i, cfg.mtu));

    const cleanups: Array<() => void> = [];
    let self: Interface | null = null;
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
      const tun = openTunDevice({ name: cfg.tunName, queues: cfg.workers, address: formatIpNet(cfg.vip), mtu: cfg.mtu, routes: tunnelRoutes(config, logger) }, logger);
      cleanups.push(() => tun.close());
      const sockets: UdpSocket[] = [];
      for (let i = 0; i < cfg.workers; i++) {
        const s = udpOpen({ address: cfg.localAddr.host, port: i === 0 ? cfg.localAddr.port : sockets[0].port, reusePort: true, rcvbuf: SOCKET_BUFFER, sndbuf: SOCKET_BUFFER });
        sockets.push(s);
        cleanups.push(() => closeFd(s.fd));
      }
      const wakeFds = sockets.map(() => eventfdOpen());
      cleanups.push(() => wakeFds.forEach(closeFd));
      const sender = new ControlSender(memory, layout, sockets[0].fd);
      logger.debug("shared memory laid out", { used_bytes: layout.used, size_bytes: buffer.byteLength });

      const module = compileAeadModule();
      const workers = regions.map((r, index) => {
        const data: WorkerData = {
          index, memory, module, regions: r, tablesBase: device.tables.base, ringBase: ringOffsets[index], doorbell, stopWord, snapshotWord,
          udpFd: sockets[index].fd, tunFd: tun.fds[index], wakeFd: wakeFds[index], tunVnet: tun.offload, mtu: cfg.mtu, localAddress: cfg.vip.bytes,
          allowedIps: device.allowedIps.snapshot, timeOrigin: performance.timeOrigin,
        };
        return new Worker(new URL("./worker.js", import.meta.url), { workerData: data });
      });
      let published = device.allowedIps.snapshot;
      const publish = () => {
        const snapshot = device.allowedIps.snapshot;
        if (snapshot === published) return;
        published = snapshot;
        workers.forEach((w) => w.postMessage({ type: "allowed-ips", snapshot }));
        Atomics.add(i32, snapshotWord, 1);
        wakeFds.forEach((fd) => eventfdWrite(fd));
      };
      const loop = new ControlLoop({
        device, rings, i32, doorbell, sender, logger,
        afterRound: (actions) => {
          self?.reresolve(actions);
          publish();
          // A new session: the workers send the packets that waited for it.
          if (actions.some((a) => a.type === "keypair")) wakeFds.forEach((fd) => eventfdWrite(fd));
        },
      });
      const parts: Parts = {
        config, logger, device, buffer, regions, tun, listenPort: sockets[0].port, workers, loop, i32, stopWord, wakeFds, publish, hostNames: new Map(), undo,
      };
      self = new Interface(parts);
      self.trackHostNames(config);
      await self.serveUapi(sockets[0].port, cfg.privateKey);
      const now = device.clock.now();
      for (const p of device.peerStats()) if (p.endpoint) loop.carryOut(device.initiate(p.slot, now));
      logger.info("interface up", {
        interface: tun.name, address: formatIpNet(cfg.vip), listen_port: sockets[0].port, workers: cfg.workers,
        public_key: encodeKey(device.publicKey!), peers: config.peers.length,
      });
      return self;
    } catch (e) {
      // Once the workers and the loop run, stopping them is what undoes the rest.
      if (self) await self.stop();
      else undo();
      throw e;
    }
  }

  stats(): Record<StatName, number> {
    return sumStats(this.p.buffer, this.p.regions.map((r) => r.stats));
  }

  peerStats(): PeerStats[] {
    return this.p.device.peerStats();
  }

  async apply(config: TaltunConfig): Promise<void> {
    const { device, logger } = this.p;
    const old = this.p.config;
    const key = restartKey(old.interface, config.interface);
    if (key) throw new ConfigError(`interface.${key}`, "a new value", "cannot change while the interface runs; restart it");
    // Resolve first: a name that does not resolve leaves the running configuration alone.
    const endpoints = new Map<string, string>();
    await Promise.all(
      config.peers.map(async (p) => {
        if (p.endpoint) endpoints.set(peerId(p), await resolveEndpoint(p.endpoint));
      }),
    );
    if (!keysEqual(old.interface.privateKey, config.interface.privateKey)) device.setPrivateKey(config.interface.privateKey);
    const before = new Map(old.peers.map((p) => [peerId(p), p]));
    const after = new Set(config.peers.map(peerId));
    let added = 0;
    let changed = 0;
    let removed = 0;
    for (const [id, p] of before) {
      if (after.has(id)) continue;
      device.removePeer(p.publicKey);
      removed++;
    }
    for (const p of config.peers) {
      const was = before.get(peerId(p));
      const resolved = endpoints.get(peerId(p));
      if (was && sameNets(was, p) && samePsk(was, p) && was.endpoint === p.endpoint && was.persistentKeepalive === p.persistentKeepalive) continue;
      const slot = device.addPeer({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey ?? undefined,
        allowedIps: !was || !sameNets(was, p) ? p.allowedIps.map(formatIpNet) : undefined,
        endpoint: resolved && (!was || was.endpoint !== p.endpoint) ? parseEndpoint(resolved) : undefined,
        persistentKeepalive: !was || was.persistentKeepalive !== p.persistentKeepalive ? p.persistentKeepalive : undefined,
      });
      if (was && was.presharedKey && !p.presharedKey) device.peerBySlot(slot)?.clearPresharedKey();
      if (was) changed++;
      else added++;
    }
    this.p.tun.setRoutes(tunnelRoutes(config, logger));
    this.p.config = config;
    this.trackHostNames(config);
    this.p.publish();
    this.p.loop.wake();
    logger.info("configuration applied", { peers_added: added, peers_changed: changed, peers_removed: removed });
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    const { i32, stopWord, wakeFds, workers, loop, logger, tun } = this.p;
    const started = performance.now();
    Atomics.store(i32, stopWord, 1);
    wakeFds.forEach((fd) => eventfdWrite(fd));
    await Promise.all(
      workers.map((w) =>
        Promise.race([
          new Promise<void>((r) => w.once("exit", () => r())),
          new Promise<void>((r) => setTimeout(r, WORKER_STOP_MS)).then(() => void w.terminate()),
        ]),
      ),
    );
    const workersMs = Math.round(performance.now() - started);
    await loop.stop();
    await this.uapi?.close();
    this.p.undo();
    logger.info("interface down", { interface: tun.name, workers_stopped_ms: workersMs, total_ms: Math.round(performance.now() - started) });
  }

  private async serveUapi(listenPort: number, privateKey: Uint8Array): Promise<void> {
    const { device, tun, logger } = this.p;
    let key = privateKey;
    this.uapi = await uapiListen(
      tun.name,
      uapiDevice({
        device,
        listenPort,
        privateKey: () => key,
        setPrivateKey: (k) => {
          key = k.slice();
          device.setPrivateKey(k);
        },
        counters: () => this.stats(),
        changed: () => {
          this.p.publish();
          this.p.loop.wake();
        },
      }),
      { logger },
    );
  }

  /** Peers known by host name: when their handshakes stop completing, look the name up again. */
  private trackHostNames(config: TaltunConfig): void {
    const { device, hostNames } = this.p;
    hostNames.clear();
    for (const p of config.peers) {
      if (p.endpoint && ipFamily(parseHostPort(p.endpoint).host) === 0) hostNames.set(device.peerSlot(p.publicKey), p.endpoint);
    }
  }

  private reresolve(actions: readonly DeviceAction[]): void {
    const { device, logger, hostNames } = this.p;
    for (const a of actions) {
      const name = a.type === "handshake-failed" ? hostNames.get(a.peer) : undefined;
      if (!name) continue;
      resolveEndpoint(name).then(
        (addr) => {
          const peer = device.peerStats().find((p) => p.slot === a.peer);
          if (peer) device.addPeer({ publicKey: peer.publicKey, endpoint: parseEndpoint(addr) });
          logger.info("peer endpoint resolved again", { endpoint: name, address: addr });
        },
        (e: Error) => logger.warn("cannot resolve peer endpoint", { endpoint: name, error: e.message }),
      );
    }
  }
}

/**
 * Brings an interface up from a validated configuration and serves its UAPI socket on
 * `/var/run/wireguard/<tunName>.sock`. Needs root (or CAP_NET_ADMIN).
 * @example const tun = await startInterface(validateConfig(raw), { logger }); await tun.done;
 */
export function startInterface(config: TaltunConfig, options: StartOptions): Promise<RunningInterface> {
  return Interface.start(config, options);
}
