/**
 * Starting a Taltun interface: the one call between a validated configuration and a
 * running tunnel (TUN device, UDP sockets, data-plane workers, handshakes, UAPI socket).
 * @module
 */
import { Worker } from "node:worker_threads";
import { closeFd, eventfdOpen, eventfdWrite, loadIoShim, udpOpen, type UdpSocket } from "@taltun/io-shim";
import { compileAeadModule, createSharedMemory, HEAP_BASE } from "@taltun/wasm-crypto";
import type { TaltunConfig } from "../config/config.js";
import { ControlLoop } from "./control-loop.js";
import { MemoryLayout, sharedBuffer } from "../dataplane/memory-layout.js";
import { reserveWorkerRegions } from "../dataplane/regions.js";
import { HandshakeRing, ringBytes } from "../dataplane/ring.js";
import { ControlSender } from "./sender.js";
import { sumStats, type StatName } from "../dataplane/stats.js";
import { openTunDevice } from "./tun-device.js";
import { uapiDevice } from "./uapi-device.js";
import type { WorkerData } from "../dataplane/worker.js";
import { Device, type DeviceAction, deviceRegionSize } from "../device/device.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { encodeKey } from "../protocol/keys.js";
import type { Logger } from "../log/log.js";
import { formatIpNet, ipFamily, ipNetContains, parseHostPort } from "../protocol/address.js";
import { resolveEndpoint } from "./resolve.js";
import { uapiListen } from "../uapi/uapi.js";

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
  /** Stops the interface: workers, sockets, TUN device and the UAPI socket. */
  stop(): Promise<void>;
  /** Settles when the interface has stopped, by `stop()` or by a fatal error (rejects). */
  readonly done: Promise<void>;
}

const MEMORY_BYTES = 16 << 20;
const RING_SLOTS = 256;
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

/**
 * Brings an interface up from a validated configuration and serves its UAPI socket on
 * `/var/run/wireguard/<tunName>.sock`. Needs root (or CAP_NET_ADMIN).
 * @example const tun = await startInterface(validateConfig(raw), { logger }); await tun.done;
 */
export async function startInterface(config: TaltunConfig, options: StartOptions): Promise<RunningInterface> {
  const { logger } = options;
  const cfg = config.interface;
  loadIoShim();
  const endpoints = await Promise.all(config.peers.map((p) => (p.endpoint ? resolveEndpoint(p.endpoint) : null)));

  const memory = createSharedMemory(MEMORY_BYTES);
  const buffer = sharedBuffer(memory);
  const i32 = new Int32Array(buffer);
  const layout = new MemoryLayout(HEAP_BASE, buffer.byteLength);
  const capacity = { peers: Math.max(64, config.peers.length * 2), keypairs: Math.max(64, config.peers.length * 2) * 3 + 16 };
  const device = new Device({ memory, base: layout.reserve("device", deviceRegionSize(capacity), 8), capacity, privateKey: cfg.privateKey, mtu: cfg.mtu });
  let privateKey: Uint8Array = cfg.privateKey;
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
  const regions = Array.from({ length: cfg.workers }, (_, i) => reserveWorkerRegions(layout, i));

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
    const tun = openTunDevice({ name: cfg.tunName, queues: cfg.workers, address: formatIpNet(cfg.vip), mtu: cfg.mtu, routes: tunnelRoutes(config, logger) }, logger);
    cleanups.push(() => tun.close());
    const sockets: UdpSocket[] = [];
    for (let i = 0; i < cfg.workers; i++) {
      const s = udpOpen({ address: cfg.localAddr.host, port: i === 0 ? cfg.localAddr.port : sockets[0].port, reusePort: true, rcvbuf: SOCKET_BUFFER, sndbuf: SOCKET_BUFFER });
      sockets.push(s);
      cleanups.push(() => closeFd(s.fd));
    }
    const listenPort = sockets[0].port;
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
    // A peer known by host name may have moved: when its handshakes stop completing, look the name up again.
    const hostNames = new Map<number, string>();
    config.peers.forEach((p) => {
      if (p.endpoint && ipFamily(parseHostPort(p.endpoint).host) === 0) hostNames.set(device.peerSlot(p.publicKey), p.endpoint);
    });
    const reresolve = (actions: readonly DeviceAction[]) => {
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
    };
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
        reresolve(actions);
        publish();
        // A new session: the workers send the packets that waited for it.
        if (actions.some((a) => a.type === "keypair")) wakeFds.forEach((fd) => eventfdWrite(fd));
      },
    });

    const uapi = await uapiListen(
      tun.name,
      uapiDevice({
        device,
        listenPort,
        privateKey: () => privateKey,
        setPrivateKey: (k) => {
          privateKey = k.slice();
          device.setPrivateKey(k);
        },
        counters: () => sumStats(buffer, regions.map((r) => r.stats)),
        changed: () => {
          publish();
          Atomics.add(i32, doorbell, 1);
          Atomics.notify(i32, doorbell);
        },
      }),
      { logger },
    );

    const failed = new Promise<never>((_, reject) =>
      workers.forEach((w, i) => w.on("error", (e) => reject(new Error(`data-plane worker ${i} failed: ${e.message}`)))),
    );
    const now = device.clock.now();
    for (const p of device.peerStats()) if (p.endpoint) loop.carryOut(device.initiate(p.slot, now));
    logger.info("interface up", {
      interface: tun.name, address: formatIpNet(cfg.vip), listen_port: listenPort, workers: cfg.workers,
      public_key: encodeKey(device.publicKey!), peers: config.peers.length,
    });

    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
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
        await uapi.close();
        undo();
        logger.info("interface down", { interface: tun.name, workers_stopped_ms: workersMs, total_ms: Math.round(performance.now() - started) });
      })());
    const done = Promise.race([loop.done, failed]).then(
      () => stop(),
      async (e) => {
        await stop();
        throw e;
      },
    );
    return { listenPort, stats: () => sumStats(buffer, regions.map((r) => r.stats)), stop, done };
  } catch (e) {
    undo();
    throw e;
  }
}
