// An in-memory UapiDevice for the UAPI tests: it keeps the state a real interface keeps and
// applies requests with WireGuard's semantics, so `wg set` followed by `wg show` round-trips.
// Each prefix has one owner (a map), so requests with 100,000 allowed IPs apply in linear time.
import { encodeKeyHex } from "../protocol/keys.js";
import { formatIpNet } from "../protocol/address.js";
import type { DeviceSnapshot, PeerSnapshot, UapiDevice, UapiSetRequest } from "./protocol.js";

interface PeerState {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: string | null;
  /** Prefix text, in the order added. */
  allowedIps: Set<string>;
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
  /** Prefix text -> the hex key of the peer it routes to. */
  private readonly owners = new Map<string, string>();
  /** When set, `apply` fails with it: a device that cannot take a change. */
  failWith: Error | null = null;
  /** Every request (or part of one) applied, in order. */
  readonly applied: UapiSetRequest[] = [];
  /** When set, called before each request is applied (tests that pace or watch the parts). */
  onApply: ((req: UapiSetRequest) => void | Promise<void>) | null = null;

  snapshot(): DeviceSnapshot {
    const peers: PeerSnapshot[] = [...this.peers.values()].map((p) => ({ ...p, allowedIps: [...p.allowedIps] }));
    return { privateKey: this.privateKey, listenPort: this.listenPort, fwmark: this.fwmark, peers };
  }

  async apply(req: UapiSetRequest): Promise<void> {
    await this.onApply?.(req);
    this.applyNow(req);
  }

  /** `apply` without the hook, synchronously (set-up in tests). */
  applyNow(req: UapiSetRequest): void {
    if (this.failWith) throw this.failWith;
    this.applied.push(req);
    if (req.privateKey !== undefined) this.privateKey = req.privateKey;
    if (req.listenPort !== undefined) this.listenPort = req.listenPort;
    if (req.fwmark !== undefined) this.fwmark = req.fwmark;
    if (req.replacePeers) {
      this.peers.clear();
      this.owners.clear();
    }
    for (const c of req.peers) {
      const id = encodeKeyHex(c.publicKey);
      let p = this.peers.get(id);
      if (c.remove) {
        if (p) this.dropPrefixes(p);
        this.peers.delete(id);
        continue;
      }
      if (!p) {
        if (c.updateOnly) continue;
        p = { publicKey: c.publicKey, presharedKey: null, endpoint: null, allowedIps: new Set(), persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0 };
        this.peers.set(id, p);
      }
      if (c.presharedKey !== undefined) p.presharedKey = c.presharedKey;
      if (c.endpoint !== undefined) p.endpoint = c.endpoint;
      if (c.persistentKeepalive !== undefined) p.persistentKeepalive = c.persistentKeepalive;
      if (c.replaceAllowedIps) this.dropPrefixes(p);
      for (const net of c.allowedIps) {
        // A prefix routes to one peer: taking it here takes it from any other.
        const key = formatIpNet(net);
        const owner = this.owners.get(key);
        if (owner !== undefined && owner !== id) this.peers.get(owner)?.allowedIps.delete(key);
        this.owners.set(key, id);
        p.allowedIps.add(key);
      }
    }
  }

  private dropPrefixes(p: PeerState): void {
    for (const key of p.allowedIps) this.owners.delete(key);
    p.allowedIps.clear();
  }
}
