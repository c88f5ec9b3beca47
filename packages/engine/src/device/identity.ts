/**
 * Our static key, as the facade changes it: setting a private key re-derives what every
 * peer's handshake depends on and drops their sessions, closing zeroes it, and the cookie
 * secret made under it is redrawn on time and published to the workers, which check MAC1
 * and answer with cookies themselves.
 * @module
 */
import { CookieChecker } from "../protocol/cookie.js";
import { publicKeyOf, zeroKeys } from "../protocol/dh.js";
import { ConfigError, REDACTED } from "../protocol/errors.js";
import { keysEqual } from "../protocol/keys.js";
import { precomputeStaticStatic } from "../protocol/noise.js";
import { publishCookieKeys, publishCookieSecret } from "../tables/cookie-record.js";
import { resetSessions } from "./session.js";
import type { DeviceState } from "./state.js";

/**
 * Set (or change) our private key: every session and pending handshake is dropped. The
 * same key again changes nothing (`wg syncconf` sends it every time).
 */
export function setPrivateKey(s: DeviceState, privateKey: Uint8Array): void {
  if (privateKey.length !== 32) throw new ConfigError("private_key", REDACTED, "must be 32 bytes");
  if (s.identity && keysEqual(s.identity.privateKey, privateKey)) return;
  if (s.identity) zeroKeys(s.identity.privateKey);
  s.identity = { privateKey: privateKey.slice(), publicKey: publicKeyOf(privateKey) };
  s.checker = new CookieChecker(s.identity.publicKey);
  // The workers check MAC1 with our new key from now on, and cookies under a new secret.
  publishCookieKeys(s.tables, s.checker.keys);
  const now = s.clock.now();
  refreshCookieSecret(s, now);
  for (const peer of s.peersBySlot.values()) {
    peer.secrets.staticStatic = precomputeStaticStatic(s.identity, peer.publicKey);
    resetSessions(s, peer, now);
  }
}

/**
 * Shut down: every keypair and pending handshake is dropped and zeroed at once, and so
 * are our private key and each peer's preshared key and precomputed static-static DH.
 */
export function closeDevice(s: DeviceState): void {
  const now = s.clock.now();
  for (const peer of s.peersBySlot.values()) {
    resetSessions(s, peer, now);
    peer.timers.stopAll();
    peer.secrets.presharedKey.fill(0);
    peer.secrets.staticStatic.fill(0);
  }
  s.keypairs.collectAll();
  if (s.identity) zeroKeys(s.identity.privateKey);
  s.identity = null;
  s.checker = null;
  publishCookieKeys(s.tables, null);
}

/** The owner of the cookie secret redraws it every COOKIE_REFRESH_TIME, and the workers follow. */
export function refreshCookieSecret(s: DeviceState, now: number): void {
  const secret = s.checker?.refresh(now);
  if (!secret) return;
  publishCookieSecret(s.tables, secret);
  secret.fill(0);
}
