/**
 * Adding, changing and removing peers (what `wg set` and the UAPI ask of the device), and
 * the bookkeeping of their slots in the shared tables: a slot freed while a change is held
 * is not given to another peer before the release, because the workers' allowed-IPs
 * snapshot may still route to it.
 * @module
 */
import { ConfigError, LayoutError, REDACTED } from "../protocol/errors.js";
import { precomputeStaticStatic } from "../protocol/noise.js";
import { claimPeer, releasePeer } from "../tables/peer-slot.js";
import { Peer, type PeerChange } from "./peer.js";
import { resetSessions, setEndpoint } from "./session.js";
import { type DeviceState, keyId } from "./state.js";

/** The device's free peer slots, and those held back while a change is under way. */
export interface PeerSlots {
  readonly free: number[];
  /** Slots of peers removed while changes are held: not given to another peer before the release. */
  held: number[] | null;
}

/** Every slot of a table of `peers` free, the lowest given first. */
export function newPeerSlots(peers: number): PeerSlots {
  const free: number[] = [];
  for (let p = peers - 1; p >= 0; p--) free.push(p);
  return { free, held: null };
}

/** Add a peer, or change the one with this public key. Returns its slot number. */
export function addPeer(s: DeviceState, slots: PeerSlots, change: PeerChange): number {
  if (change.publicKey.length !== 32) throw new ConfigError("public_key", `${change.publicKey.length} bytes`, "must be 32 bytes");
  if (change.presharedKey && change.presharedKey.length !== 32) throw new ConfigError("preshared_key", REDACTED, "must be 32 bytes");
  let peer = s.peersByKey.get(keyId(change.publicKey));
  if (!peer) {
    const slot = slots.free.pop();
    if (slot === undefined) throw new LayoutError(slots.held?.length ? "no free peer slot until the change under way is complete" : "no free peer slot");
    const pk = change.publicKey.slice();
    const ss = s.identity ? precomputeStaticStatic(s.identity, pk) : new Uint8Array(32);
    peer = new Peer(slot, { remoteStatic: pk, presharedKey: new Uint8Array(32), staticStatic: ss }, null, 0, s.jitter);
    // Its keypairs were retired when the previous peer was removed: zeroed, it holds none.
    claimPeer(s.tables, slot);
    s.peersBySlot.set(slot, peer);
    s.peersByKey.set(keyId(pk), peer);
  }
  if (change.presharedKey) peer.secrets.presharedKey = change.presharedKey.slice();
  if (change.endpoint) setEndpoint(s, peer, change.endpoint);
  if (change.persistentKeepalive !== undefined) {
    peer.timers.persistentInterval = change.persistentKeepalive * 1000;
    // Turning it on sends one at once (which may start the handshake); off disarms it.
    peer.timers.persistentAt = change.persistentKeepalive > 0 ? s.clock.now() : Infinity;
  }
  if (change.allowedIps) {
    s.allowedIps.removePeer(peer.slot);
    for (const p of change.allowedIps) s.allowedIps.insert(p, peer.slot);
  }
  return peer.slot;
}

/** Remove a peer: its sessions are retired, its allowed IPs dropped, its slot freed. */
export function removePeer(s: DeviceState, slots: PeerSlots, publicKey: Uint8Array): void {
  const peer = s.peersByKey.get(keyId(publicKey));
  if (!peer) return;
  resetSessions(s, peer, s.clock.now());
  peer.timers.stopAll();
  s.allowedIps.removePeer(peer.slot);
  releasePeer(s.tables, peer.slot);
  s.peersByKey.delete(keyId(publicKey));
  s.peersBySlot.delete(peer.slot);
  (slots.held ?? slots.free).push(peer.slot);
}

/**
 * Hold (true) or release (false) what the data plane sees of a change made in steps; see
 * Device.holdChanges.
 */
export function holdChanges(s: DeviceState, slots: PeerSlots, on: boolean): void {
  s.allowedIps.hold(on);
  if (on) slots.held ??= [];
  else if (slots.held) {
    slots.free.push(...slots.held);
    slots.held = null;
  }
}
