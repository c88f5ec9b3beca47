/**
 * The per-peer timer state machine of the whitepaper §6 (and wireguard-go's timers),
 * as deadlines on the injected monotonic clock instead of OS timers: the device feeds it
 * events, asks for {@link PeerTimers.nextDeadline}, and collects what is {@link PeerTimers.due}.
 *
 * | timer | armed by | stopped by | on expiry |
 * |---|---|---|---|
 * | retransmit | initiation sent | handshake complete | resend every REKEY_TIMEOUT + jitter; give up after REKEY_ATTEMPT_TIME |
 * | keepalive | data received (if not armed) | any authenticated packet sent | send a keepalive (again if more data came) |
 * | newHandshake | data sent (if not armed) | any authenticated packet received | start a handshake: KEEPALIVE + REKEY_TIMEOUT of silence |
 * | zeroKeys | session derived, or giving up | - | zero all keys: 3 x REJECT_AFTER_TIME |
 * | persistent | any authenticated packet sent or received | - | send a keepalive |
 * @module
 */
import { KEEPALIVE_TIMEOUT, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, ZERO_KEY_MATERIAL_AFTER } from "./constants.js";

/** A timer that fired. */
export type TimerKind = "retransmit" | "give-up" | "keepalive" | "new-handshake" | "zero-keys" | "persistent-keepalive";

/** Random jitter in [0, REKEY_TIMEOUT_JITTER_MAX] ms. */
export function defaultJitter(): number {
  return (crypto.getRandomValues(new Uint16Array(1))[0] / 65535) * REKEY_TIMEOUT_JITTER_MAX;
}

/** Deadlines of one peer (Infinity = not armed). */
export class PeerTimers {
  retransmitAt = Infinity;
  keepaliveAt = Infinity;
  newHandshakeAt = Infinity;
  zeroKeysAt = Infinity;
  persistentAt = Infinity;
  /** Start of the current series of handshake attempts, or -1. */
  attemptsSince = -1;
  private needAnotherKeepalive = false;

  constructor(
    /** Persistent keepalive interval in ms; 0 = off. */
    public persistentInterval = 0,
    private readonly jitter: () => number = defaultJitter,
  ) {}

  /** We sent an initiation (a retry continues the series, a fresh one starts it). */
  handshakeInitiated(now: number, retry: boolean): void {
    if (!retry || this.attemptsSince < 0) this.attemptsSince = now;
    this.retransmitAt = now + REKEY_TIMEOUT + this.jitter();
  }

  /** A handshake we initiated completed. */
  handshakeComplete(): void {
    this.retransmitAt = Infinity;
    this.attemptsSince = -1;
  }

  /** New transport keys exist: all keys die 3 x REJECT_AFTER_TIME later unless renewed. */
  sessionDerived(now: number): void {
    this.zeroKeysAt = now + ZERO_KEY_MATERIAL_AFTER;
  }

  /** A data (non-keepalive) packet was sent. */
  dataSent(now: number): void {
    if (this.newHandshakeAt === Infinity) this.newHandshakeAt = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter();
  }

  /** A data (non-keepalive) packet was received. */
  dataReceived(now: number): void {
    if (this.keepaliveAt === Infinity) this.keepaliveAt = now + KEEPALIVE_TIMEOUT;
    else this.needAnotherKeepalive = true;
  }

  /** Any authenticated packet (data or keepalive) was sent. */
  anyAuthenticatedPacketSent(): void {
    this.keepaliveAt = Infinity;
    this.needAnotherKeepalive = false;
  }

  /** Any authenticated packet (data, keepalive or handshake) was received. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshakeAt = Infinity;
  }

  /** Any authenticated packet went either way: restart the persistent keepalive. */
  anyAuthenticatedPacketTraversal(now: number): void {
    this.persistentAt = this.persistentInterval > 0 ? now + this.persistentInterval : Infinity;
  }

  /** Stop everything (peer removed or keys zeroed). */
  stopAll(): void {
    this.retransmitAt = this.keepaliveAt = this.newHandshakeAt = this.zeroKeysAt = this.persistentAt = Infinity;
    this.attemptsSince = -1;
    this.needAnotherKeepalive = false;
  }

  /** The earliest armed deadline, or Infinity. */
  nextDeadline(): number {
    return Math.min(this.retransmitAt, this.keepaliveAt, this.newHandshakeAt, this.zeroKeysAt, this.persistentAt);
  }

  /** Disarm and return the timers whose deadline is <= now, in a stable order. */
  due(now: number): TimerKind[] {
    const fired: TimerKind[] = [];
    if (this.retransmitAt <= now) {
      this.retransmitAt = Infinity;
      if (now - this.attemptsSince >= REKEY_ATTEMPT_TIME) {
        this.attemptsSince = -1;
        this.newHandshakeAt = Infinity;
        if (this.zeroKeysAt === Infinity) this.zeroKeysAt = now + ZERO_KEY_MATERIAL_AFTER;
        fired.push("give-up");
      } else fired.push("retransmit");
    }
    if (this.keepaliveAt <= now) {
      this.keepaliveAt = this.needAnotherKeepalive ? now + KEEPALIVE_TIMEOUT : Infinity;
      this.needAnotherKeepalive = false;
      fired.push("keepalive");
    }
    if (this.newHandshakeAt <= now) {
      this.newHandshakeAt = Infinity;
      fired.push("new-handshake");
    }
    if (this.zeroKeysAt <= now) {
      this.zeroKeysAt = Infinity;
      fired.push("zero-keys");
    }
    if (this.persistentAt <= now) {
      this.persistentAt = this.persistentInterval > 0 ? now + this.persistentInterval : Infinity;
      fired.push("persistent-keepalive");
    }
    return fired;
  }
}
