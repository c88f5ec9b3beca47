/**
 * The running interface as `wg show` / `wg set` see it: a {@link UapiDevice} over the
 * protocol core's Device. Changes take effect at once (the control loop publishes a new
 * allowed-IPs snapshot to the workers after each of them).
 */
import type { Device } from "../device/device.js";
import { parseEndpoint, formatEndpoint } from "../tables/endpoint.js";
import { formatIpNet } from "../protocol/address.js";
import { type DeviceSnapshot, type UapiDevice, UapiError, type UapiSetRequest } from "../uapi/protocol.js";

const EINVAL = 22;
const EADDRINUSE = 98;

/** What the adapter needs besides the Device. */
export interface UapiDeviceOptions {
  device: Device;
  privateKey: () => Uint8Array | null;
  setPrivateKey: (key: Uint8Array) => void;
  /** The port the interface listens on now. */
  listenPort: () => number;
  /** Moves the sockets to `port` (0: any free port); resolves with the port bound. */
  setListenPort: (port: number) => Promise<number>;
  /** The firewall mark of the sockets (0: none). */
  fwmark: () => number;
  /** Sets the firewall mark of the sockets (0 clears it). */
  setFwmark: (mark: number) => void;
  /** Called after a successful change. */
  changed: () => void;
  /** The data plane's counters, summed over the workers. */
  counters: () => Record<string, number>;
}

/** Builds the UAPI view of a running interface. */
export function uapiDevice(o: UapiDeviceOptions): UapiDevice {
  const { device } = o;
  return {
    counters: o.counters,

    snapshot(): DeviceSnapshot {
      return {
        privateKey: o.privateKey(),
        listenPort: o.listenPort(),
        fwmark: o.fwmark(),
        peers: device.peerStats().map((p) => ({
          publicKey: p.publicKey,
          presharedKey: device.peerBySlot(p.slot)?.presharedKey ?? null,
          endpoint: p.endpoint ? formatEndpoint(p.endpoint) || null : null,
          allowedIps: p.allowedIps,
          lastHandshakeMs: p.lastHandshake,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
          persistentKeepalive: p.persistentKeepalive,
        })),
      };
    },

    async apply(req: UapiSetRequest): Promise<void> {
      // A long request comes in parts (uapi/connection.ts): the data plane gets it whole, after the last.
      device.holdChanges(req.more === true);
      if (req.listenPort !== undefined && req.listenPort !== o.listenPort()) {
        try {
          await o.setListenPort(req.listenPort);
        } catch (e) {
          throw new UapiError(EADDRINUSE, `cannot listen on port ${req.listenPort}: ${(e as Error).message}`);
        }
      }
      if (req.fwmark !== undefined && req.fwmark !== o.fwmark()) o.setFwmark(req.fwmark);
      if (req.privateKey === null) throw new UapiError(EINVAL, "a Taltun interface cannot run without a private key");
      if (req.privateKey) o.setPrivateKey(req.privateKey);
      if (req.replacePeers) for (const p of device.peerStats()) device.removePeer(p.publicKey);
      for (const c of req.peers) {
        if (c.remove) {
          device.removePeer(c.publicKey);
          continue;
        }
        const exists = device.peerSlot(c.publicKey) >= 0;
        if (c.updateOnly && !exists) continue;
        const slot = device.addPeer({
          publicKey: c.publicKey,
          presharedKey: c.presharedKey ?? undefined,
          endpoint: c.endpoint ? parseEndpoint(c.endpoint) : undefined,
          persistentKeepalive: c.persistentKeepalive,
        });
        if (c.presharedKey === null) device.peerBySlot(slot)?.clearPresharedKey();
        if (c.replaceAllowedIps) device.allowedIps.removePeer(slot);
        for (const net of c.allowedIps) device.allowedIps.insert(formatIpNet(net), slot);
      }
      if (!req.more) o.changed();
    },
  };
}
