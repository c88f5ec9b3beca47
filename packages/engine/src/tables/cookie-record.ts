/**
 * The cookie record: what the data-plane workers need to check MAC1 and MAC2 of handshake
 * messages and to answer with cookie replies themselves (whitepaper §5.4.7), and the
 * control plane's "under load" verdict. The only module that reads or writes these bytes.
 * 128 bytes at {@link SharedTables.cookieRecord}:
 *
 * | bytes | field | written by |
 * |---|---|---|
 * | 0-3 | sequence: odd while keys or secret are being written (a seqlock) | control plane |
 * | 4-7 | flags: HAS_KEY (a private key is set), HAS_SECRET | control plane |
 * | 8-11 | under load: 1 while the control plane wants MAC2 on every handshake message | control plane |
 * | 16-47 | MAC1 key, HASH(LABEL_MAC1 \|\| S_pub) | control plane |
 * | 48-79 | cookie key, HASH(LABEL_COOKIE \|\| S_pub) | control plane |
 * | 80-111 | the cookie secret R_m (rotated every COOKIE_REFRESH_TIME) | control plane |
 *
 * One writer (the control plane), many readers (workers): a reader copies the keys when
 * the sequence moved, and again if it changed during the copy, so it never uses half of an
 * old key and half of a new one. Without HAS_KEY, workers drop every initiation and
 * response (fail closed: nothing could be valid for a device with no key).
 * @module
 */
import type { SharedTables } from "./shared-tables.js";

const C_SEQ = 0;
const C_FLAGS = 1;
const C_UNDER_LOAD = 2;
const MAC1_KEY_BYTE = 16;
const COOKIE_KEY_BYTE = 48;
const SECRET_BYTE = 80;
const KEY = 32;

const HAS_KEY = 1;
const HAS_SECRET = 2;

/** What a worker copies out of the record. */
export interface CookieMaterial {
  mac1Key: Uint8Array;
  cookieKey: Uint8Array;
  secret: Uint8Array;
  hasKey: boolean;
  hasSecret: boolean;
}

/** Fresh buffers for {@link readCookieMaterial}. */
export function newCookieMaterial(): CookieMaterial {
  return { mac1Key: new Uint8Array(KEY), cookieKey: new Uint8Array(KEY), secret: new Uint8Array(KEY), hasKey: false, hasSecret: false };
}

const seqWord = (t: SharedTables) => (t.cookieRecord >> 2) + C_SEQ;

/** Write under the seqlock: odd while writing, even (and moved) when done. */
function write(t: SharedTables, body: () => void): void {
  const w = seqWord(t);
  Atomics.add(t.i32, w, 1);
  body();
  Atomics.add(t.i32, w, 1);
}

/**
 * Publish the keys derived from our new public key (control plane), or none (`null`: no
 * private key, workers drop handshakes). The secret is dropped with the old key.
 */
export function publishCookieKeys(t: SharedTables, keys: { mac1Key: Uint8Array; cookieKey: Uint8Array } | null): void {
  const at = t.cookieRecord;
  write(t, () => {
    if (keys) {
      t.u8.set(keys.mac1Key, at + MAC1_KEY_BYTE);
      t.u8.set(keys.cookieKey, at + COOKIE_KEY_BYTE);
    } else t.u8.fill(0, at + MAC1_KEY_BYTE, at + COOKIE_KEY_BYTE + KEY);
    t.u8.fill(0, at + SECRET_BYTE, at + SECRET_BYTE + KEY);
    Atomics.store(t.i32, (at >> 2) + C_FLAGS, keys ? HAS_KEY : 0);
  });
}

/** Publish a newly drawn cookie secret (control plane). */
export function publishCookieSecret(t: SharedTables, secret: Uint8Array): void {
  const at = t.cookieRecord;
  write(t, () => {
    t.u8.set(secret, at + SECRET_BYTE);
    Atomics.or(t.i32, (at >> 2) + C_FLAGS, HAS_SECRET);
  });
}

/** The record's sequence: a reader copies again only when it moved. Odd: being written. */
export function cookieSequence(t: SharedTables): number {
  return Atomics.load(t.i32, seqWord(t));
}

/**
 * Copy the keys and secret into `out` (worker). Returns the sequence they belong to, or
 * -1 when a write was under way (try again at the next message; keep the old copy).
 */
export function readCookieMaterial(t: SharedTables, out: CookieMaterial): number {
  const at = t.cookieRecord;
  const before = cookieSequence(t);
  if (before & 1) return -1;
  out.mac1Key.set(t.u8.subarray(at + MAC1_KEY_BYTE, at + MAC1_KEY_BYTE + KEY));
  out.cookieKey.set(t.u8.subarray(at + COOKIE_KEY_BYTE, at + COOKIE_KEY_BYTE + KEY));
  out.secret.set(t.u8.subarray(at + SECRET_BYTE, at + SECRET_BYTE + KEY));
  const flags = Atomics.load(t.i32, (at >> 2) + C_FLAGS);
  out.hasKey = (flags & HAS_KEY) !== 0;
  out.hasSecret = (flags & HAS_SECRET) !== 0;
  return cookieSequence(t) === before ? before : -1;
}

/** Tell the workers whether to demand MAC2 (control plane). */
export function setUnderLoad(t: SharedTables, on: boolean): void {
  Atomics.store(t.i32, (t.cookieRecord >> 2) + C_UNDER_LOAD, on ? 1 : 0);
}

/** Whether the control plane wants MAC2 on every handshake message. */
export function isUnderLoad(t: SharedTables): boolean {
  return Atomics.load(t.i32, (t.cookieRecord >> 2) + C_UNDER_LOAD) !== 0;
}
