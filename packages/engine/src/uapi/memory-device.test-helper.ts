// An in-memory UapiDevice for the UAPI tests: it keeps the state a real interface keeps and
// applies requests with WireGuard's semantics, so `wg set` followed by `wg show` round-trips.
import { encodeKeyHex } from "../protocol/keys.js";
import { type IpNet, formatIpNet } from "../protocol/address.js";
import type { DeviceSnapshot, PeerSnapshot, UapiDevice, UapiSetRequest } from "./protocol.js";

interface PeerState {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: string | null;
  allowedIps: IpNet[];
  persistentKeepalive: number;
  lastHandshakeMs: number;
  rxBytes: number;
  txBytes: number;
}

export class MemoryDevice implements UapiDevice {
  privateKey: Uint8Array | null = null;
  listenPort = 0;
  fwmark = 0;
  /** Keyed by hex public key, in insertion order (as `wg show` lists them). */
  readonly peers = new Map<string, PeerState>();
  /** When set, `apply` fails with it: a device that cannot take a change. */
  failWith: Error | null = null;

  snapshot(): DeviceSnapshot {
    const peers: PeerSnapshot[] = [...this.peers.values()].map((p) => ({ ...p, allowedIps: p.allowedIps.map(formatIpNet) }));
    return { privateKey: this.privateKey, listenPort: this.listenPort, fwmark: this.fwmark, peers };
  }

  apply(req: UapiSetRequest): void {
    if (this.failWith) throw this.failWith;
    if (req.privateKey !== undefined) this.privateKey = req.privateKey;
    if (req.listenPort !== undefined) this.listenPort = req.listenPort;
    if (req.fwmark !== undefined) this.fwmark = req.fwmark;
    if (req.replacePeers) this.peers.clear();
    for (const c of req.peers) {
      const id = encodeKeyHex(c.publicKey);
      if (c.remove) {
        this.peers.delete(id);
        continue;
      }
      let p = this.peers.get(id);
      if (!p) {
        if (c.updateOnly) continue;
        p = { publicKey: c.publicKey, presharedKey: null, endpoint: null, allowedIps: [], persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0 };
        this.peers.set(id, p);
      }
      if (c.presharedKey !== undefined) p.presharedKey = c.presharedKey;
      if (c.endpoint !== undefined) p.endpoint = c.endpoint;
      if (c.persistentKeepalive !== undefined) p.persistentKeepalive = c.persistentKeepalive;
      if (c.replaceAllowedIps) p.allowedIps = [];
      for (const net of c.allowedIps) {
        // A prefix routes to one peer: taking it here takes it from any other.
        const same = (n: IpNet) => formatIpNet(n) === formatIpNet(net);
        for (const other of this.peers.values()) other.allowedIps = other.allowedIps.filter((n) => !same(n));
        p.allowedIps.push(net);
      }
    }
  }
}
