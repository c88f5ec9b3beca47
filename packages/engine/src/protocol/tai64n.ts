/**
 * TAI64N timestamps (https://cr.yp.to/libtai/tai64.html) as carried, encrypted, in the
 * handshake initiation: 8 bytes big-endian seconds offset by 2^62 + 10, then 4 bytes
 * big-endian nanoseconds. The responder keeps the greatest one seen per peer and rejects
 * any initiation that is not strictly newer (replay protection, whitepaper §5.1).
 * @module
 */
import { TIMESTAMP_SIZE } from "./constants.js";

const TAI_BASE = 2n ** 62n + 10n;
/**
 * Nanoseconds are rounded down to ~16.8 ms so the timestamp does not leak a precise
 * clock reading of the initiator (the same precision wireguard-go exposes).
 */
const WHITENER_MASK = 0x1000000 - 1;

/** Encode wall-clock milliseconds since the Unix epoch as a 12-byte TAI64N label. */
export function tai64n(wallMs: number): Uint8Array {
  const out = new Uint8Array(TIMESTAMP_SIZE);
  const seconds = Math.floor(wallMs / 1000);
  const nanos = Math.floor((wallMs - seconds * 1000) * 1e6) & ~WHITENER_MASK;
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI_BASE + BigInt(seconds));
  view.setUint32(8, nanos >>> 0);
  return out;
}

/** True when `a` is strictly later than `b` (big-endian byte comparison). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TIMESTAMP_SIZE; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}
