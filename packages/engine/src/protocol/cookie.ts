/**
 * MAC1, MAC2 and cookie replies (whitepaper §5.4.4, §5.4.7).
 *
 * - {@link CookieChecker} (our side as receiver): verifies MAC1 with HASH(LABEL_MAC1 ||
 *   our public key), and under load verifies MAC2 against a cookie bound to the sender's
 *   address under a secret that rotates every COOKIE_REFRESH_TIME; builds cookie replies
 *   sealed with XChaCha20-Poly1305 under HASH(LABEL_COOKIE || our public key), with the
 *   rejected message's MAC1 as associated data.
 * - {@link CookieGenerator} (per peer, our side as sender): stamps MAC1/MAC2 on our
 *   handshake messages and stores the cookie of a valid reply for COOKIE_REFRESH_TIME.
 * @module
 */
import { xopen, xseal } from "./aead.js";
import { COOKIE_NONCE_SIZE, COOKIE_REFRESH_TIME, LABEL_COOKIE, LABEL_MAC1, MAC_SIZE } from "./constants.js";
import { HandshakeError } from "./errors.js";
import { hash, mac } from "./kdf.js";
import { decodeCookieReply, encodeCookieReply } from "./messages.js";

const text = new TextEncoder();
const LABEL_MAC1_BYTES = text.encode(LABEL_MAC1);
const LABEL_COOKIE_BYTES = text.encode(LABEL_COOKIE);

/** Constant-time equality of two 16-byte MACs. */
function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < MAC_SIZE; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** MAC1 sits 32 bytes from the end of an initiation or response, MAC2 16 bytes from it. */
const mac1Offset = (msg: Uint8Array) => msg.length - 2 * MAC_SIZE;
const mac2Offset = (msg: Uint8Array) => msg.length - MAC_SIZE;

/** The two keys derived from our static public key (whitepaper §5.4.4, §5.4.7). */
export interface CookieKeys {
  /** HASH(LABEL_MAC1 || S_pub): the key of MAC1 on messages to us. */
  mac1Key: Uint8Array;
  /** HASH(LABEL_COOKIE || S_pub): the XChaCha20-Poly1305 key of our cookie replies. */
  cookieKey: Uint8Array;
}

/** Derive {@link CookieKeys} from our static public key. */
export function cookieKeys(localPublic: Uint8Array): CookieKeys {
  return { mac1Key: hash(LABEL_MAC1_BYTES, localPublic), cookieKey: hash(LABEL_COOKIE_BYTES, localPublic) };
}

/**
 * Verifies MAC1/MAC2 of messages sent to us and answers with cookie replies.
 *
 * One checker owns the secret R_m and redraws it every COOKIE_REFRESH_TIME (the control
 * plane's); others follow it ({@link CookieChecker.follower}: the data-plane workers, which
 * are given the owner's keys and secret through shared memory and never draw their own, so
 * a cookie one of them hands out is valid in all of them).
 */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret = new Uint8Array(32);
  private secretSetAt = -Infinity;
  /** A follower's secret is set from outside ({@link useSecret}), never redrawn here. */
  private readonly follows: boolean;

  /** `localPublic`: our static public key; or the keys themselves (a follower's). */
  constructor(localPublic: Uint8Array | CookieKeys, follows = false) {
    const keys = localPublic instanceof Uint8Array ? cookieKeys(localPublic) : localPublic;
    this.mac1Key = keys.mac1Key.slice();
    this.cookieKey = keys.cookieKey.slice();
    this.follows = follows;
  }

  /**
   * A checker that uses `keys` and the secret it is given ({@link useSecret}) and never
   * draws one itself. Until a secret is given, MAC2 checks fail (fail closed).
   * @example const c = CookieChecker.follower(keys); c.useSecret(secret);
   */
  static follower(keys: CookieKeys): CookieChecker {
    return new CookieChecker(keys, true);
  }

  /** The keys, copied (to publish them to followers). */
  get keys(): CookieKeys {
    return { mac1Key: this.mac1Key.slice(), cookieKey: this.cookieKey.slice() };
  }

  /** True when the MAC1 of `msg` (initiation or response) is valid for us. */
  checkMac1(msg: Uint8Array): boolean {
    const off = mac1Offset(msg);
    return macEqual(mac(this.mac1Key, msg.subarray(0, off)), msg.subarray(off));
  }

  /** True when the MAC2 of `msg` matches the current cookie of `source`. */
  checkMac2(msg: Uint8Array, source: Uint8Array, now: number): boolean {
    if (this.follows && this.secretSetAt === -Infinity) return false;
    const off = mac2Offset(msg);
    const cookie = this.cookieFor(source, now);
    const ok = macEqual(mac(cookie, msg.subarray(0, off)), msg.subarray(off));
    cookie.fill(0);
    return ok;
  }

  /** A 64-byte cookie reply to `msg`, whose sender index is `receiverIndex`. */
  createReply(msg: Uint8Array, receiverIndex: number, source: Uint8Array, now: number): Uint8Array {
    const cookie = this.cookieFor(source, now);
    const nonce = crypto.getRandomValues(new Uint8Array(COOKIE_NONCE_SIZE));
    const off = mac1Offset(msg);
    const encryptedCookie = xseal(this.cookieKey, nonce, cookie, msg.subarray(off, off + MAC_SIZE));
    cookie.fill(0);
    return encodeCookieReply({ receiverIndex, nonce, encryptedCookie });
  }

  /** The moment (monotonic ms) the current secret was drawn; for tests and `show`. */
  get secretAge(): number {
    return this.secretSetAt;
  }

  /**
   * The owner redraws R_m when it is older than COOKIE_REFRESH_TIME (or was never drawn)
   * and returns it (a copy, to publish), else null. A follower never redraws.
   */
  refresh(now: number): Uint8Array | null {
    if (this.follows || now - this.secretSetAt < COOKIE_REFRESH_TIME) return null;
    crypto.getRandomValues(this.secret);
    this.secretSetAt = now;
    return this.secret.slice();
  }

  /** A follower takes the owner's current secret. */
  useSecret(secret: Uint8Array): void {
    this.secret.set(secret);
    this.secretSetAt = 0;
  }

  /** τ = MAC(R_m, A_m), with R_m redrawn by its owner when older than COOKIE_REFRESH_TIME. */
  private cookieFor(source: Uint8Array, now: number): Uint8Array {
    this.refresh(now);
    return mac(this.secret, source);
  }
}

/** Stamps MAC1/MAC2 on messages we send to one peer and learns cookies from its replies. */
export class CookieGenerator {
  private mac1Key: Uint8Array;
  private cookieKey: Uint8Array;
  private cookie = new Uint8Array(MAC_SIZE);
  private cookieAt = -Infinity;
  private lastMac1: Uint8Array | null = null;

  /** `remotePublic`: the peer's static public key. */
  constructor(remotePublic: Uint8Array) {
    this.mac1Key = hash(LABEL_MAC1_BYTES, remotePublic);
    this.cookieKey = hash(LABEL_COOKIE_BYTES, remotePublic);
  }

  /** Fill MAC1 and (with a fresh cookie) MAC2 of `msg` in place. */
  addMacs(msg: Uint8Array, now: number): void {
    const m1 = mac1Offset(msg);
    const m2 = mac2Offset(msg);
    const mac1 = mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1 = mac1;
    if (now - this.cookieAt < COOKIE_REFRESH_TIME) msg.set(mac(this.cookie, msg.subarray(0, m2)), m2);
    else msg.fill(0, m2);
  }

  /** Consume a cookie reply to our last message. Throws HandshakeError("decrypt-failed"). */
  consumeReply(bytes: Uint8Array, now: number): void {
    const reply = decodeCookieReply(bytes);
    if (!this.lastMac1) throw new HandshakeError("wrong-state", "cookie reply without a message sent");
    const cookie = xopen(this.cookieKey, reply.nonce, reply.encryptedCookie, this.lastMac1);
    if (!cookie) throw new HandshakeError("decrypt-failed", "cookie reply does not authenticate");
    this.cookie.set(cookie);
    this.cookieAt = now;
    // A reply answers one message only: a replayed reply must not refresh the cookie.
    this.lastMac1 = null;
  }

  /** True while a received cookie is still valid. */
  hasCookie(now: number): boolean {
    return now - this.cookieAt < COOKIE_REFRESH_TIME;
  }
}
