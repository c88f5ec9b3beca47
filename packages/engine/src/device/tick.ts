/**
 * The device's clock work: each tick polls every peer's shared counters (poll.ts), runs
 * the timers that are due (whitepaper §6) and expires keypairs past REJECT_AFTER_TIME.
 * Handshakes cost X25519 operations, so a tick starts only so many and remembers where it
 * stopped; the next one resumes there, so thousands of peers due at once are served in
 * turn while the event loop runs between.
 * @module
 */
import { REJECT_AFTER_TIME } from "../protocol/constants.js";
import { KP_EXPIRED, keypairCreatedAt, keypairFlags } from "../tables/keypair-slot.js";
import type { DeviceAction } from "./actions.js";
import { refreshCookieSecret } from "./identity.js";
import { noteHandshakes } from "./load.js";
import type { Peer } from "./peer.js";
import { pollPeer } from "./poll.js";
import { dropInitiation, resetSessions, sendInitiation, sendKeepalive } from "./session.js";
import type { DeviceState } from "./state.js";

/** The data plane should tick at least this often (ms) so worker events drive timers promptly. */
export const POLL_INTERVAL = 250;
/**
 * Handshakes a {@link tick} starts at most (each costs X25519 operations): with
 * thousands of peers due at once (10,000 with persistent keepalives after `wg setconf`),
 * the rest wait for the next ticks, taken in turn, and {@link nextDeadline} says
 * "now" until they are done, so the event loop runs between.
 */
export const TICK_INITIATIONS = 32;

/** Where the next tick starts running timers. */
export interface TickCursor {
  /** The peer whose timers the next tick runs first: where the last one ran out of initiations; -1: none. */
  resumeAt: number;
}

const isInitiation = (a: DeviceAction) => a.type === "send" && a.message === "initiation";

/**
 * Run due timers and poll the data plane's counters. At most TICK_INITIATIONS handshakes
 * are started; the peers whose timers were not run then go first next time.
 */
export function tick(s: DeviceState, cursor: TickCursor, now: number): DeviceAction[] {
  const actions: DeviceAction[] = [];
  s.keypairs.collect(now);
  refreshCookieSecret(s, now);
  noteHandshakes(s, now, 0);
  let budget = TICK_INITIATIONS;
  let next = -1;
  const run = (peer: Peer) => {
    if (budget <= 0) {
      if (next < 0) next = peer.slot;
      return;
    }
    const before = actions.length;
    runTimers(s, peer, now, actions);
    for (let i = before; i < actions.length; i++) if (isInitiation(actions[i])) budget--;
  };
  // Every peer is polled; timers run from where the last tick stopped, round the list.
  let started = cursor.resumeAt < 0 || !s.peersBySlot.has(cursor.resumeAt);
  for (const peer of s.peersBySlot.values()) {
    const before = actions.length;
    pollPeer(s, peer, now, actions, budget > 0);
    for (let i = before; i < actions.length; i++) if (isInitiation(actions[i])) budget--;
    if (peer.slot === cursor.resumeAt) started = true;
    if (started) run(peer);
  }
  if (cursor.resumeAt >= 0 && s.peersBySlot.has(cursor.resumeAt)) {
    for (const peer of s.peersBySlot.values()) {
      if (peer.slot === cursor.resumeAt) break;
      run(peer);
    }
  }
  cursor.resumeAt = next;
  return actions;
}

function runTimers(s: DeviceState, peer: Peer, now: number, actions: DeviceAction[]): void {
  for (const kind of peer.timers.due(now)) {
    switch (kind) {
      case "retransmit":
        actions.push(...sendInitiation(s, peer, now, true));
        break;
      case "give-up":
        dropInitiation(s, peer);
        actions.push({ type: "handshake-failed", peer: peer.slot });
        break;
      case "new-handshake":
        actions.push(...sendInitiation(s, peer, now, false));
        break;
      case "keepalive":
      case "persistent-keepalive":
        actions.push(...sendKeepalive(s, peer, now));
        break;
      case "zero-keys":
        resetSessions(s, peer, now);
        s.keypairs.collectAll();
        actions.push({ type: "keys-zeroed", peer: peer.slot });
        break;
    }
  }
  for (const slot of peer.ownedSlots) {
    if (now - keypairCreatedAt(s.tables, slot) >= REJECT_AFTER_TIME) s.keypairs.expire(slot);
  }
}

/** The earliest time tick() has work to do (timers only; poll at least every POLL_INTERVAL); -Infinity while a tick left timers to run. */
export function nextDeadline(s: DeviceState, cursor: TickCursor): number {
  if (cursor.resumeAt >= 0 && s.peersBySlot.has(cursor.resumeAt)) return -Infinity;
  let at = Infinity;
  for (const peer of s.peersBySlot.values()) {
    at = Math.min(at, peer.timers.nextDeadline());
    for (const slot of peer.ownedSlots) {
      if ((keypairFlags(s.tables, slot) & KP_EXPIRED) === 0) at = Math.min(at, keypairCreatedAt(s.tables, slot) + REJECT_AFTER_TIME);
    }
  }
  return at;
}
