/**
 * The injected clock: the protocol core never reads time itself, so tests run whole
 * minutes of timers in virtual time.
 * @module
 */

/** Monotonic time for timers and wall time for TAI64N timestamps, both in ms. */
export interface Clock {
  /** Monotonic milliseconds (never jumps back); the `now` of tick() and friends. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (TAI64N, "latest handshake"). */
  wallTime(): number;
}

/** The real clock: performance.now() and Date.now(). */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
};

/** A clock the caller moves by hand (tests, simulations). */
export class ManualClock implements Clock {
  constructor(
    public monotonic = 0,
    public wall = 1_700_000_000_000,
  ) {}

  now(): number {
    return this.monotonic;
  }

  wallTime(): number {
    return this.wall + this.monotonic;
  }

  /** Move both clocks forward by `ms`. */
  advance(ms: number): number {
    this.monotonic += ms;
    return this.monotonic;
  }
}
