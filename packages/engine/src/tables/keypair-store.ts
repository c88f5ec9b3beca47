/**
 * Keypairs (whitepaper §5.4.6, §6.1): each peer has up to three, in its shared peer slot:
 * `current` (used to send), `previous` (still accepted while the peer switches over) and
 * `next` (the responder's fresh keypair, usable to send only once the initiator has used
 * it: the confirm-on-first-data rule, applied by the data plane in transport.ts).
 *
 * This is the control plane's side: it owns allocation of keypair slots, writes their
 * keys and indices, rotates the peer's three pointers as wireguard-go does, and retires
 * slots. A retired slot is invalidated and unregistered at once but zeroed and reused only
 * after RETIRE_GRACE ms, so a worker that read its address a moment earlier never sees a
 * half-rewritten slot.
 * @module
 */
import { LayoutError } from "../protocol/errors.js";
import type { TransportKeys } from "../protocol/noise.js";
import { addKeypairFlags, clearKeypairFlags, initKeypair, KP_EXPIRED, localIndex, wipeKeypair } from "./keypair-slot.js";
import { CURRENT, keypairOf, lockPeer, NEXT, PREVIOUS, setKeypairOf, unlockPeer } from "./peer-slot.js";
import { insertIndex, removeIndex } from "./receiver-index.js";
import type { SharedTables } from "./shared-tables.js";

/** A retired slot is reused no sooner than this (ms). */
export const RETIRE_GRACE = 1_000;

/** Keypair slot allocator and per-peer rotation over the shared tables. */
export class KeypairStore {
  /** Free slots, a stack: the lowest and the most recently freed are taken first, so only as many slots are touched as are used at once. */
  private free: number[] = [];
  private retired: { slot: number; at: number }[] = [];
  /** Slots below this have been handed out before (and were zeroed then); those above never. */
  private touched = 0;

  constructor(private readonly t: SharedTables) {
    for (let k = t.keypairCapacity - 1; k >= 0; k--) this.free.push(k);
  }

  /** Slots ready for reuse (for tests and `show`). */
  get available(): number {
    return this.free.length;
  }

  /**
   * Install new transport keys for `peer`: as initiator they become `current` at once
   * (previous <- old next or old current); as responder they become `next`. Returns the
   * slot. Slots pushed out are retired.
   */
  install(peer: number, keys: TransportKeys, localIndex: number, remoteIndex: number, initiator: boolean, now: number): number {
    // Under handshake churn the grace period may hold every spare slot: then the oldest
    // retired one is reused early (it is already invalid and unregistered; at worst a
    // worker that read it a moment ago seals one packet the peer will drop).
    if (this.free.length === 0 && this.retired.length > 0) this.collect(this.retired[0].at + RETIRE_GRACE);
    const slot = this.free.pop();
    if (slot === undefined) throw new LayoutError("no free keypair slot: capacity must be at least 3 per peer");
    const t = this.t;
    if (slot >= this.touched) {
      wipeKeypair(t, slot); // first use: SharedTables.create leaves keypair slots as it finds them
      this.touched = slot + 1;
    }
    initKeypair(t, slot, { peer, localIndex, remoteIndex, sendKey: keys.send, receiveKey: keys.receive, createdAt: now, initiator });
    keys.send.fill(0);
    keys.receive.fill(0);
    insertIndex(t, localIndex, slot);

    const out: number[] = [];
    lockPeer(t, peer);
    const [current, previous, next] = this.slotsOf(peer);
    if (initiator) {
      out.push(previous);
      if (next >= 0) {
        setKeypairOf(t, peer, PREVIOUS, next);
        setKeypairOf(t, peer, NEXT, -1);
        out.push(current);
      } else setKeypairOf(t, peer, PREVIOUS, current);
      setKeypairOf(t, peer, CURRENT, slot);
    } else {
      out.push(next, previous);
      setKeypairOf(t, peer, PREVIOUS, -1);
      setKeypairOf(t, peer, NEXT, slot);
    }
    unlockPeer(t, peer);
    for (const s of out) if (s >= 0) this.retire(s, now);
    return slot;
  }

  /** The (current, previous, next) slots of `peer`, -1 for none. */
  slotsOf(peer: number): [number, number, number] {
    const t = this.t;
    return [keypairOf(t, peer, CURRENT), keypairOf(t, peer, PREVIOUS), keypairOf(t, peer, NEXT)];
  }

  /** Mark `slot` expired: workers stop using it; it stays registered until retired. */
  expire(slot: number): void {
    addKeypairFlags(this.t, slot, KP_EXPIRED);
  }

  /** Retire every keypair of `peer` (keys zeroed after the grace period). */
  retireAll(peer: number, now: number): void {
    const t = this.t;
    lockPeer(t, peer);
    const slots = this.slotsOf(peer);
    for (const role of [CURRENT, PREVIOUS, NEXT] as const) setKeypairOf(t, peer, role, -1);
    unlockPeer(t, peer);
    for (const s of slots) if (s >= 0) this.retire(s, now);
  }

  /**
   * Retire slots of `peer` that the data plane dropped from the peer slot (a worker's
   * promotion of `next` pushes the old `previous` out). `owned` is the set of slots the
   * control plane installed for the peer; it is updated.
   */
  reconcile(peer: number, owned: Set<number>, now: number): void {
    const live = this.slotsOf(peer);
    for (const s of owned) {
      if (!live.includes(s)) {
        owned.delete(s);
        this.retire(s, now);
      }
    }
  }

  /** Zero and free slots retired more than RETIRE_GRACE ago. */
  collect(now: number): void {
    while (this.retired.length > 0 && now - this.retired[0].at >= RETIRE_GRACE) {
      const { slot } = this.retired.shift()!;
      wipeKeypair(this.t, slot);
      this.free.push(slot);
    }
  }

  /** Zero every retired slot now (shutdown, or tests that check zeroing). */
  collectAll(): void {
    this.collect(Infinity);
  }

  private retire(slot: number, now: number): void {
    const t = this.t;
    if (clearKeypairFlags(t, slot) === 0) return; // already retired
    removeIndex(t, localIndex(t, slot));
    this.retired.push({ slot, at: now });
  }
}
