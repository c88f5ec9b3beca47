/**
 * A launched interface's metrics, wired up: a {@link MetricsSource} that reads its Device,
 * shared tables and workers at scrape time, and the {@link MetricsServer} that serves them.
 * @module
 */
import type { TaltunConfig } from "../config/config.js";
import { sumStats } from "../dataplane/stats.js";
import type { DeviceAction } from "../device/device.js";
import type { Logger } from "../log/log.js";
import type { HostPort } from "../protocol/address.js";
import { encodeKey } from "../protocol/keys.js";
import { formatEndpoint } from "../tables/endpoint.js";
import { type PeerCounters, peerGeneration, readCounters } from "../tables/peer-slot.js";
import type { LaunchedParts } from "./launch.js";
import { InterfaceMetrics, type MetricsSource } from "./metrics.js";
import { MetricsServer } from "./metrics-server.js";

/** Reads a launched interface's peers and workers for {@link InterfaceMetrics}. */
export function launchedSource(p: LaunchedParts, config: () => TaltunConfig | null): MetricsSource {
  const { device } = p;
  const counters: PeerCounters = { txPackets: 0, txData: 0, rxPackets: 0, rxData: 0, promotions: 0, endpointSeq: 0 };
  return {
    interfaceName: p.tun.name,
    publicKey: () => (device.publicKey ? encodeKey(device.publicKey) : null),
    listenPort: () => p.sockets.port,
    peers: () => {
      const names = new Map<string, string>();
      for (const c of config()?.peers ?? []) if (c.name) names.set(encodeKey(c.publicKey), c.name);
      return device.peerStats().map((s) => {
        readCounters(device.tables, s.slot, counters);
        const key = encodeKey(s.publicKey);
        return {
          publicKey: key, name: names.get(key) ?? null, endpoint: s.endpoint ? formatEndpoint(s.endpoint) : null,
          lastHandshakeMs: s.lastHandshake, rxBytes: s.rxBytes, txBytes: s.txBytes,
          rxPackets: counters.rxPackets, txPackets: counters.txPackets,
          epoch: `${s.slot}:${peerGeneration(device.tables, s.slot)}`,
        };
      });
    },
    workers: () => p.regions.map((r) => sumStats(p.buffer, [r.stats])),
    peerKey: (slot) => {
      const peer = device.peerBySlot(slot);
      return peer ? encodeKey(peer.publicKey) : undefined;
    },
    handshakeCounts: () => device.handshakeCounts(),
    underLoad: () => device.underLoad(device.clock.now()),
  };
}

/** The metrics of a launched interface, served on `address`; observe the control loop's actions through it. */
export interface ServedMetrics {
  readonly address: HostPort;
  observe(actions: readonly DeviceAction[]): void;
  close(): Promise<void>;
}

/** Starts {@link InterfaceMetrics} of `p` and serves them on `address`. */
export async function serveMetrics(p: LaunchedParts, address: HostPort, config: () => TaltunConfig | null, logger: Logger): Promise<ServedMetrics> {
  const metrics = new InterfaceMetrics(launchedSource(p, config));
  const server = await MetricsServer.listen(address, metrics, logger);
  return {
    address: server.address,
    observe: (actions) => metrics.observe(actions),
    close: async () => {
      await server.close();
      metrics.registry.clear();
    },
  };
}
