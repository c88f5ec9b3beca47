/**
 * The worker's gate in front of the handshake rings (whitepaper §5.3 "DoS mitigation",
 * §5.4.7): what a flood of handshake messages costs is paid here, on the data-plane
 * threads, and never reaches the control plane's ring.
 *
 * - MAC1 of every initiation and response is checked with the key of the cookie record
 *   (cookie-record.ts); a bad one is dropped and counted.
 * - A response, or a cookie reply, must name a handshake of ours (the receiver-index table
 *   holds our pending initiations and keypairs); one that does not is dropped.
 * - Under load (the control plane's verdict, load.ts), each source address may send
 *   HANDSHAKES_PER_SECOND initiations or responses (protocol/ratelimiter.ts); those need a
 *   valid MAC2, and one without gets a cookie reply from the worker itself
 *   (protocol/cookie.ts, with the control plane's secret).
 * - What belongs to a handshake we know (a response or cookie reply to us, a MAC2-valid
 *   message under load) goes to the priority ring, so a ring full of flood cannot hold
 *   it back.
 * @module
 */
import { COOKIE_REPLY_SIZE, MESSAGE_COOKIE_REPLY, MESSAGE_RESPONSE } from "../protocol/constants.js";
import { CookieChecker } from "../protocol/cookie.js";
import { readU32 } from "../protocol/messages.js";
import { RateLimiter } from "../protocol/ratelimiter.js";
import { cookieSequence, isUnderLoad, newCookieMaterial, readCookieMaterial } from "../tables/cookie-record.js";
import { allowSource } from "../tables/endpoint.js";
import { lookupIndex, PENDING_INDEX } from "../tables/receiver-index.js";
import { ENDPOINT_BYTES, type SharedTables } from "../tables/shared-tables.js";
import { STAT } from "./stats.js";

/** Where a handshake message goes. */
export const GUARD = {
  /** The control plane's ring. */
  ring: 0,
  /** The priority ring: a handshake of ours, or MAC2-valid under load. */
  priority: 1,
  /** Answered with the cookie reply in {@link HandshakeGuard.reply}. */
  cookieReply: 2,
  /** Dropped (and counted). */
  dropped: 3,
} as const;
export type GuardVerdict = (typeof GUARD)[keyof typeof GUARD];

/** Offset of the receiver index in a response (type, reserved, sender index, receiver index) and a cookie reply. */
const RESPONSE_RECEIVER = 8;
const COOKIE_RECEIVER = 4;
const SENDER = 4;

/** One worker's handshake gate; it keeps its own copy of the cookie record and its own rate limiters. */
export class HandshakeGuard {
  /** The cookie reply of the last {@link GUARD.cookieReply} verdict ({@link COOKIE_REPLY_SIZE} bytes). */
  reply: Uint8Array = new Uint8Array(COOKIE_REPLY_SIZE);
  private readonly material = newCookieMaterial();
  private checker: CookieChecker | null = null;
  private seq = -1;
  /**
   * Under load, what a source address may cost beyond a MAC1 check, per second: a MAC2
   * check, then a cookie reply or the control plane's DH. wireguard-go limits MAC2-valid
   * messages per address; this limits cookie replies too, and checks first, so a flood
   * from one address costs one MAC per message. The price, as with wireguard-go when the
   * flood has a cookie: a peer behind the flood's own address waits for the flood to end.
   */
  private readonly limiter = new RateLimiter();

  /** `count(stat)` bumps one of the worker's counters. */
  constructor(
    private readonly tables: SharedTables,
    private readonly count: (stat: number) => void,
  ) {}

  /**
   * Decide about the handshake message of the right size at `u8[at..at+length]` that came
   * from the endpoint record at `u8[source..]`. Never throws on malformed input.
   */
  check(u8: Uint8Array, at: number, length: number, source: number, now: number): GuardVerdict {
    const t = this.tables;
    const type = u8[at];
    if (type === MESSAGE_COOKIE_REPLY) {
      // No MAC to check: only the control plane can open it, but it must answer something of ours.
      if (lookupIndex(t, readU32(u8, at + COOKIE_RECEIVER)) !== -1) return GUARD.priority;
      return this.drop(STAT.rejectedUnknownIndex);
    }
    const checker = this.checkerNow();
    if (!checker) return this.drop(STAT.rejectedNoKey);
    const msg = u8.subarray(at, at + length);
    if (!checker.checkMac1(msg)) return this.drop(STAT.rejectedBadMac1);
    const ours = type === MESSAGE_RESPONSE;
    if (ours && lookupIndex(t, readU32(u8, at + RESPONSE_RECEIVER)) !== PENDING_INDEX) return this.drop(STAT.rejectedUnknownIndex);
    if (!isUnderLoad(t)) return ours ? GUARD.priority : GUARD.ring;
    // Before any more work: a flood from one address costs one MAC and this lookup per message.
    if (!allowSource(this.limiter, u8, source, now)) return this.drop(STAT.rejectedRateLimit);
    const from = u8.subarray(source, source + ENDPOINT_BYTES);
    if (!this.material.hasSecret) return this.drop(STAT.rejectedNoKey);
    if (checker.checkMac2(msg, from, now)) return GUARD.priority;
    this.reply = checker.createReply(msg, readU32(u8, at + SENDER), from, now);
    this.count(STAT.cookieReplies);
    return GUARD.cookieReply;
  }

  private drop(stat: number): GuardVerdict {
    this.count(stat);
    return GUARD.dropped;
  }

  /** The checker for the record as it is now: rebuilt only when the control plane published a new key or secret. */
  private checkerNow(): CookieChecker | null {
    const seq = cookieSequence(this.tables);
    if (seq !== this.seq) {
      const got = readCookieMaterial(this.tables, this.material);
      // Mid-write: keep the last complete copy, and look again at the next message.
      if (got >= 0) {
        this.seq = got;
        this.checker = this.material.hasKey ? CookieChecker.follower(this.material) : null;
        if (this.checker && this.material.hasSecret) this.checker.useSecret(this.material.secret);
      }
    }
    return this.checker;
  }
}
