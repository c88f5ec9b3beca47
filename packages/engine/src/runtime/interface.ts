/**
 * A running Taltun interface: the one object between a configuration and a live tunnel.
 * `taltun up` starts one from a TOML configuration ({@link startInterface}); `taltun-wg`
 * starts a bare one that the UAPI configures, as wireguard-go is ({@link startWgInterface}).
 * It applies a new configuration to the running tunnel (only what changed), follows its
 * TUN device (an MTU changed from outside; the device deleted, which stops it), and stops
 * every part it started.
 * @module
 */
import { availableParallelism } from "node:os";
import { eventfdWrite, SysError, tunInfo } from "@taltun/io-shim";
import { MAX_MTU, type TaltunConfig } from "../config/config.js";
import { sumStats, type StatName } from "../dataplane/stats.js";
import type { DeviceAction, PeerStats } from "../device/device.js";
import type { PeerChange } from "../device/peer.js";
import type { Logger } from "../log/log.js";
import { formatIpNet, type HostPort, ipFamily, ipNetContains, parseHostPort } from "../protocol/address.js";
import { ConfigError } from "../protocol/errors.js";
import { encodeKey } from "../protocol/keys.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { MAX_PEERS } from "../tables/shared-tables.js";
import { uapiListen, type UapiServer } from "../uapi/uapi.js";
import { launch, type LaunchedParts, type LaunchPlan } from "./launch.js";
import { flatHandshakeTotals, handshakeTotals } from "./handshake-counts.js";
import { serveMetrics, type ServedMetrics } from "./serve-metrics.js";
import { diffConfig } from "./reconfigure.js";
import { resolveEndpoint } from "./resolve.js";
import { uapiDevice } from "./uapi-device.js";

/** Options of `startInterface`. */
export interface StartOptions {
  /** Where the interface logs; the CLI builds it from `log_level` and `--log-format`. */
  readonly logger: Logger;
  /**
   * Where to serve Prometheus metrics (`GET /metrics`), for {@link startWgInterface};
   * {@link startInterface} takes the configuration's `metrics_addr` instead.
   */
  readonly metricsAddr?: HostPort | null;
}

/** A running interface. */
export interface RunningInterface {
  /** The UDP port the interface listens on now. */
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
  /** Settles when the interface has stopped, by `stop()`, its TUN device's deletion, or a fatal error (rejects). */
  readonly done: Promise<void>;
}

/** How long a worker may take to leave its loop once told to stop. */
const WORKER_STOP_MS = 1000;
/** How often the TUN device is asked for its MTU and whether it still exists. */
const TUN_WATCH_MS = 1000;
/** The MTU wireguard-go gives a new device. */
const WG_DEFAULT_MTU = 1420;

/** Prefixes the kernel must route into the device: configured routes, and peers' allowed IPs beyond our own prefix. */
function tunnelRoutes(config: TaltunConfig): string[] {
  const vip = config.interface.vip;
  const routes = new Set(config.interface.routes.map(formatIpNet));
  for (const p of config.peers) {
    for (const net of p.allowedIps) {
      if (ipNetContains(vip, net)) continue;
      // A default route is a full tunnel: policy routing on the sockets' mark (policy-routing.ts).
      if (net.prefix === 0) continue;
      routes.add(formatIpNet(net));
    }
  }
  return [...routes];
}

/** The families a peer's allowed IPs cover whole (0.0.0.0/0, ::/0): those go entirely through the tunnel. */
function fullTunnelFamilies(config: TaltunConfig): (4 | 6)[] {
  const families = new Set<4 | 6>();
  for (const p of config.peers) for (const net of p.allowedIps) if (net.prefix === 0) families.add(net.family);
  return [...families].sort();
}

/** The Device's view of a configured peer, its endpoint already resolved. */
function peerChange(p: TaltunConfig["peers"][number], endpoint: string | null | undefined): PeerChange {
  return {
    publicKey: p.publicKey,
    presharedKey: p.presharedKey ?? undefined,
    allowedIps: p.allowedIps.map(formatIpNet),
    endpoint: endpoint ? parseEndpoint(endpoint) : undefined,
    persistentKeepalive: p.persistentKeepalive,
  };
}

/** A running interface; start one with {@link startInterface} or {@link startWgInterface}. */
export class Interface implements RunningInterface {
  readonly done: Promise<void>;
  private readonly p: LaunchedParts;
  private uapi: UapiServer | null = null;
  private metrics: ServedMetrics | null = null;
  private stopping: Promise<void> | null = null;
  private readonly hostNames = new Map<number, string>();
  private privateKey: Uint8Array | null;
  private mtu: number;
  /** The device's MTU could not be read (said once in the log). */
  private mtuUnknown = false;
  private readonly tunWatch: ReturnType<typeof setInterval>;
  private tunDeleted!: () => void;

  private constructor(
    plan: LaunchPlan,
    private config: TaltunConfig | null,
    private readonly logger: Logger,
  ) {
    this.privateKey = plan.privateKey;
    this.mtu = plan.mtu;
    this.p = launch(plan, logger, (actions) => this.afterRound(actions));
    const failed = new Promise<never>((_, reject) =>
      this.p.workers.forEach((w, i) => w.on("error", (e) => reject(new Error(`data-plane worker ${i} failed: ${e.message}`)))),
    );
    const deleted = new Promise<void>((resolve) => (this.tunDeleted = resolve));
    this.tunWatch = setInterval(() => this.watchTun(), TUN_WATCH_MS);
    this.done = Promise.race([this.p.loop.done, failed, deleted]).then(
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
    const cfg = config.interface;
    const endpoints = await Promise.all(config.peers.map((p) => (p.endpoint ? resolveEndpoint(p.endpoint) : null)));
    const plan: LaunchPlan = {
      tunName: cfg.tunName, workers: cfg.workers, mtu: cfg.mtu, maxMtu: cfg.mtu, address: formatIpNet(cfg.vip),
      routes: tunnelRoutes(config), fullTunnel: fullTunnelFamilies(config), privateKey: cfg.privateKey, listen: cfg.localAddr,
      peers: config.peers.map((p, i) => peerChange(p, endpoints[i])),
      peerCapacity: Math.max(MAX_PEERS, config.peers.length * 2), relayAddress: cfg.vip.bytes, // room for peers added at run time
    };
    const self = await Interface.begin(plan, config, options.logger, cfg.metricsAddr);
    options.logger.info("interface up", {
      interface: self.p.tun.name, address: formatIpNet(cfg.vip), listen_port: self.listenPort, workers: cfg.workers,
      public_key: encodeKey(self.p.device.publicKey!), peers: config.peers.length,
    });
    return self;
  }

  /**
   * wireguard-go's contract: TUN `name` with MTU 1420, down, no address, no key, no peers,
   * a UAPI socket, listening on a free port. Keys, port and peers come through the UAPI
   * (`wg setconf`), address, MTU and routes from outside (`ip`); packets between peers go
   * through the kernel, as with any WireGuard interface. Slots are sized for the largest
   * MTU, so any MTU set later works.
   */
  static async startWg(name: string, options: StartOptions): Promise<Interface> {
    const plan: LaunchPlan = {
      tunName: name, workers: Math.max(1, Math.min(availableParallelism(), 8)), mtu: WG_DEFAULT_MTU, maxMtu: MAX_MTU, address: null,
      routes: [], fullTunnel: [], privateKey: null, listen: { host: "::", port: 0 }, peers: [], peerCapacity: MAX_PEERS, relayAddress: null,
    };
    const self = await Interface.begin(plan, null, options.logger, options.metricsAddr ?? null);
    options.logger.info("interface created", { interface: self.p.tun.name, listen_port: self.listenPort, workers: plan.workers });
    return self;
  }

  private static async begin(plan: LaunchPlan, config: TaltunConfig | null, logger: Logger, metricsAddr: HostPort | null): Promise<Interface> {
    const self = new Interface(plan, config, logger);
    try {
      if (config) self.trackHostNames(config);
      await self.serveUapi();
      if (metricsAddr) self.metrics = await serveMetrics(self.p, metricsAddr, () => self.config, logger);
      for (const p of self.p.device.peerStats()) if (p.endpoint) self.p.device.requestInitiation(p.slot);
      self.p.loop.wake();
      return self;
    } catch (e) {
      // The workers and the loop run: stopping them is what undoes the rest.
      await self.stop();
      throw e;
    }
  }

  get listenPort(): number {
    return this.p.sockets.port;
  }

  stats(): Record<StatName, number> {
    return sumStats(this.p.buffer, this.p.regions.map((r) => r.stats));
  }

  peerStats(): PeerStats[] {
    return this.p.device.peerStats();
  }

  /** What `get=taltun` answers: the data plane's counters, and handshake verdicts of both planes (handshake-counts.ts). */
  private counters(): Record<string, number> {
    const { device } = this.p;
    const stats = this.stats();
    return { ...stats, ...flatHandshakeTotals(handshakeTotals(device.handshakeCounts(), stats), device.underLoad(device.clock.now())) };
  }

  async apply(config: TaltunConfig): Promise<void> {
    const { device } = this.p;
    if (!this.config) throw new ConfigError("interface", "a configuration file", "this interface is configured through the UAPI (wg setconf)");
    const diff = diffConfig(this.config, config);
    if (diff.restartKey) throw new ConfigError(`interface.${diff.restartKey}`, "a new value", "cannot change while the interface runs; restart it");
    if (fullTunnelFamilies(config).join() !== fullTunnelFamilies(this.config).join()) {
      throw new ConfigError("peers.allowed_ips", "a default route added or removed", "a full tunnel (0.0.0.0/0 or ::/0) starts or ends with a restart");
    }
    // Resolve first: a name that does not resolve leaves the running configuration alone.
    const endpoints = new Map<string, string>();
    await Promise.all(
      [...diff.added, ...diff.changed.filter((c) => c.endpoint).map((c) => c.now)].map(async (p) => {
        if (p.endpoint) endpoints.set(encodeKey(p.publicKey), await resolveEndpoint(p.endpoint));
      }),
    );
    if (diff.privateKey) {
      this.privateKey = diff.privateKey.slice();
      device.setPrivateKey(diff.privateKey);
    }
    for (const p of diff.removed) device.removePeer(p.publicKey);
    for (const p of diff.added) device.addPeer(peerChange(p, endpoints.get(encodeKey(p.publicKey))));
    for (const c of diff.changed) {
      const resolved = endpoints.get(encodeKey(c.now.publicKey));
      const slot = device.addPeer({
        publicKey: c.now.publicKey,
        presharedKey: c.presharedKey ? (c.now.presharedKey ?? undefined) : undefined,
        allowedIps: c.allowedIps ? c.now.allowedIps.map(formatIpNet) : undefined,
        endpoint: resolved ? parseEndpoint(resolved) : undefined,
        persistentKeepalive: c.persistentKeepalive ? c.now.persistentKeepalive : undefined,
      });
      if (c.presharedKey && !c.now.presharedKey) device.peerBySlot(slot)?.clearPresharedKey();
    }
    this.p.tun.setRoutes(tunnelRoutes(config));
    this.config = config;
    this.trackHostNames(config);
    this.p.publish();
    this.p.loop.wake();
    this.logger.info("configuration applied", { peers_added: diff.added.length, peers_changed: diff.changed.length, peers_removed: diff.removed.length });
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    const { i32, words, wakeFds, workers, loop, tun } = this.p;
    clearInterval(this.tunWatch);
    const started = performance.now();
    Atomics.store(i32, words.stop, 1);
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
    await this.metrics?.close();
    this.p.undo();
    this.logger.info("interface down", { interface: tun.name, workers_stopped_ms: workersMs, total_ms: Math.round(performance.now() - started) });
  }

  private async serveUapi(): Promise<void> {
    const { device, tun, sockets, workers, wakeFds, sender } = this.p;
    this.uapi = await uapiListen(
      tun.name,
      uapiDevice({
        device,
        listenPort: () => sockets.port,
        setListenPort: (port) => sockets.rebind(port, workers, wakeFds, (fd) => sender.setFd(fd)),
        privateKey: () => this.privateKey,
        setPrivateKey: (k) => {
          this.privateKey = k.slice();
          device.setPrivateKey(k);
        },
        fwmark: () => sockets.mark,
        setFwmark: (mark) => sockets.setMark(mark),
        counters: () => this.counters(),
        changed: () => {
          this.p.publish();
          this.p.loop.wake();
        },
      }),
      { logger: this.logger },
    );
  }

  private afterRound(actions: readonly DeviceAction[]): void {
    this.metrics?.observe(actions);
    this.reresolve(actions);
    this.p.publish();
    // A new session: the workers send the packets that waited for it.
    if (actions.some((a) => a.type === "keypair")) this.p.wakeFds.forEach((fd) => eventfdWrite(fd));
    if (Atomics.load(this.p.i32, this.p.words.tunGone) !== 0) this.onTunDeleted();
  }

  /** Follows the device: its MTU (padding never exceeds it) and its existence. */
  private watchTun(): void {
    let mtu: number;
    try {
      mtu = tunInfo(this.p.tun.fds[0]).mtu;
    } catch (e) {
      // Only EBADFD means deleted: ENODEV is a device moved where we cannot look (no
      // CAP_SYS_ADMIN to enter its namespace); it runs on at the MTU we know.
      if (e instanceof SysError && e.errno === "EBADFD") this.onTunDeleted();
      else if (!this.mtuUnknown) {
        this.mtuUnknown = true;
        this.logger.warn("cannot read the TUN device's MTU; padding follows the last one known", { mtu: this.mtu, error: (e as Error).message });
      }
      return;
    }
    if (mtu === this.mtu) return;
    this.logger.info("TUN MTU changed", { from: this.mtu, to: mtu });
    this.mtu = mtu;
    Atomics.store(this.p.i32, this.p.words.mtu, mtu);
    this.p.wakeFds.forEach((fd) => eventfdWrite(fd));
  }

  private onTunDeleted(): void {
    this.logger.info("TUN device deleted: stopping", { interface: this.p.tun.name });
    this.tunDeleted();
  }

  /** Peers known by host name: when their handshakes stop completing, look the name up again. */
  private trackHostNames(config: TaltunConfig): void {
    this.hostNames.clear();
    for (const p of config.peers) {
      if (p.endpoint && ipFamily(parseHostPort(p.endpoint).host) === 0) this.hostNames.set(this.p.device.peerSlot(p.publicKey), p.endpoint);
    }
  }

  private reresolve(actions: readonly DeviceAction[]): void {
    const { device } = this.p;
    for (const a of actions) {
      const name = a.type === "handshake-failed" ? this.hostNames.get(a.peer) : undefined;
      if (!name) continue;
      resolveEndpoint(name).then(
        (addr) => {
          const peer = device.peerStats().find((p) => p.slot === a.peer);
          if (peer) device.addPeer({ publicKey: peer.publicKey, endpoint: parseEndpoint(addr) });
          this.logger.info("peer endpoint resolved again", { endpoint: name, address: addr });
        },
        (e: Error) => this.logger.warn("cannot resolve peer endpoint", { endpoint: name, error: e.message }),
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

/**
 * Creates TUN `name` the way wireguard-go does (MTU 1420, down, no address) with no key and
 * no peers, and serves its UAPI socket: configure it with `wg` and `ip`. Needs root.
 * @example const tun = await startWgInterface("wg0", { logger }); await tun.done;
 */
export function startWgInterface(name: string, options: StartOptions): Promise<RunningInterface> {
  return Interface.startWg(name, options);
}
