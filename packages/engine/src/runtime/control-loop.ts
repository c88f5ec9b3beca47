/**
 * The control plane's loop on the main thread: it sleeps on one shared doorbell word
 * (Atomics.waitAsync, so the event loop and the UAPI keep running), and when a worker
 * rings it, or a timer is due, it tells the Device what the workers absorbed of the
 * handshake load (its under-load verdict goes back to them), drains the handshake rings
 * into the Device (the priority rings first), runs its timers, and carries out what the
 * Device asks (send a handshake message, a cookie reply or a keepalive). It never touches
 * a data packet.
 *
 * Sticky sources: a handshake message that authenticates makes the local address it
 * arrived at its peer's (as a data packet does in the workers), and what the loop sends a
 * peer leaves from that address; a cookie reply leaves from where its message arrived.
 */
import { formatEndpoint } from "../tables/endpoint.js";
import { encodeKey } from "../protocol/keys.js";
import type { Device, DeviceAction } from "../device/device.js";
import type { Logger } from "../log/log.js";
import { POLL_INTERVAL } from "../device/device.js";
import type { HandshakeRing } from "../dataplane/ring.js";
import { forgetLocal, learnLocal, readLocal } from "../tables/peer-slot.js";
import type { ControlSender } from "./sender.js";

/** What the loop drives and reports to. */
export interface ControlLoopOptions {
  device: Device;
  rings: readonly HandshakeRing[];
  /** Each worker's priority ring (handshakes we know), drained before the others. */
  priorityRings: readonly HandshakeRing[];
  /**
   * The workers' running total of MAC1-valid handshake messages they answered or dropped
   * themselves (cookie replies, rate limit, full rings): part of the load the device judges.
   */
  absorbed: () => number;
  i32: Int32Array;
  doorbell: number;
  sender: ControlSender;
  logger: Logger;
  /** Called after every round: the allowed IPs may have changed, peers may have gone silent. */
  afterRound: (actions: readonly DeviceAction[]) => void;
}

export class ControlLoop {
  private stopped = false;
  /** Each peer slot's endpoint record as of the last round, and its text. */
  private readonly endpoints = new Map<number, { record: unknown; text: string }>();
  /** Settles when the loop has ended (after {@link stop}); rejects if it failed. */
  readonly done: Promise<void>;

  constructor(private readonly o: ControlLoopOptions) {
    this.done = this.run();
  }

  /** Ends the loop at its next wake-up, and wakes it now. */
  stop(): Promise<void> {
    this.stopped = true;
    Atomics.add(this.o.i32, this.o.doorbell, 1);
    Atomics.notify(this.o.i32, this.o.doorbell);
    return this.done;
  }

  /** Runs a round now: a change of configuration may have work for the Device (timers, handshakes). */
  wake(): void {
    Atomics.add(this.o.i32, this.o.doorbell, 1);
    Atomics.notify(this.o.i32, this.o.doorbell);
  }

  /**
   * Runs the device's actions (also those of UAPI changes and of starting up). A send to a
   * peer leaves from the peer's local address; one in `replyFrom` (a cookie reply) from
   * the local address given there.
   */
  carryOut(actions: readonly DeviceAction[], replyFrom?: ReadonlyMap<DeviceAction, Uint8Array>): void {
    const { sender, logger, device } = this.o;
    for (const a of actions) {
      const peer = a.peer >= 0 ? device.peerBySlot(a.peer) : undefined;
      const name = peer ? encodeKey(peer.publicKey) : undefined;
      switch (a.type) {
        case "send": {
          const local = a.peer >= 0 ? readLocal(device.tables, a.peer) : replyFrom?.get(a);
          if (!sender.send(a.endpoint, a.bytes, local)) logger.debug("could not send", { message: a.message, to: formatEndpoint(a.endpoint) });
          else if (logger.isLevelEnabled("debug")) logger.debug(`sent ${a.message}`, { peer: name, to: formatEndpoint(a.endpoint) });
          // Its local address left the host: it went from the kernel's choice; forget it.
          if (sender.fellOver && a.peer >= 0) forgetLocal(device.tables, a.peer, sender.local);
          break;
        }
        case "keypair":
          logger.info("handshake completed", { peer: name, role: a.role });
          break;
        case "handshake-failed":
          logger.warn("handshake did not complete, peer unreachable for now", { peer: name });
          break;
        case "keys-zeroed":
          logger.info("session keys expired and zeroed", { peer: name });
          break;
        case "rejected":
          logger.debug("handshake message rejected", { reason: a.reason });
          break;
      }
    }
  }

  private async run(): Promise<void> {
    // The first round waits for the constructor to return: its owner is complete by then.
    await Promise.resolve();
    const { device, rings, priorityRings, i32, doorbell, logger } = this.o;
    // A flood fills the ordinary rings: what belongs to handshakes we know goes first.
    const order = [...priorityRings, ...rings];
    let absorbedSeen = this.o.absorbed();
    while (!this.stopped) {
      const seen = Atomics.load(i32, doorbell);
      const actions: DeviceAction[] = [];
      const replyFrom = new Map<DeviceAction, Uint8Array>();
      let now = device.clock.now();
      // The verdict first, so the messages of this round are judged by it.
      const absorbed = this.o.absorbed();
      device.noteLoad(now, Math.max(0, absorbed - absorbedSeen), Math.max(0, ...rings.map((r) => r.fill)));
      absorbedSeen = absorbed;
      for (const ring of order) {
        for (const m of ring.drain()) {
          for (const a of device.handleHandshakeMessage(m.data, m.source, now)) {
            // Authentic (a session came of it): the peer reached us at m.local.
            if (a.type === "keypair") learnLocal(device.tables, a.peer, m.source, m.local);
            else if (a.type === "send" && a.peer < 0) replyFrom.set(a, m.local);
            actions.push(a);
          }
        }
      }
      now = device.clock.now();
      actions.push(...device.tick(now));
      this.carryOut(actions, replyFrom);
      this.reportRoaming();
      this.o.afterRound(actions);
      const wait = Math.max(1, Math.min(POLL_INTERVAL, device.nextDeadline() - device.clock.now()));
      const r = Atomics.waitAsync(i32, doorbell, seen, wait);
      if (r.async) await r.value;
    }
    logger.debug("control loop stopped");
  }

  /** Logs peers whose endpoint the workers changed (a new record is polled only then). */
  private reportRoaming(): void {
    for (const p of this.o.device.peers()) {
      const before = this.endpoints.get(p.slot);
      if (before?.record === p.endpoint) continue;
      const now = p.endpoint ? formatEndpoint(p.endpoint) : "";
      if (before !== undefined && before.text !== "" && now !== before.text) {
        this.o.logger.info("peer roamed", { peer: encodeKey(p.publicKey), from: before.text, to: now });
      }
      this.endpoints.set(p.slot, { record: p.endpoint, text: now });
    }
  }
}
