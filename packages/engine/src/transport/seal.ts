/**
 * Sending transport data (whitepaper §5.4.6), the worker's side, per batch: see batch.ts
 * for the whole path.
 * @module
 */
import { PADDING_MULTIPLE, REJECT_AFTER_TIME, REKEY_AFTER_TIME, TAG_SIZE, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { writeTransportHeader } from "../protocol/messages.js";
import {
  addKeypairFlags,
  keypairCreatedAt,
  keypairFlags,
  KP_EXPIRED,
  KP_INITIATOR,
  KP_REKEY_REQUESTED,
  KP_SEND_ALLOWED,
  KP_VALID,
  remoteIndex,
  reserveCounters,
  sendKeyAddress,
} from "../tables/keypair-slot.js";
import { countSent, CURRENT, keypairOf, requestHandshake } from "../tables/peer-slot.js";
import type { SharedTables } from "../tables/shared-tables.js";
import { writeDescriptor } from "../protocol/aead.js";
import type { TransportBatch } from "./batch.js";

/** REKEY_AFTER_MESSAGES = 2^60: the high word reaches 2^28. */
const REKEY_HI = 2 ** 28;
/** The first counter a run reserved: (lo, hi). One per thread, reused. */
const first = new Uint32Array(2);

/** Mark packets [from, to) of `b` unsendable and ask the control plane for a handshake. */
function unsendable(t: SharedTables, b: TransportBatch, from: number, to: number, peer: number): void {
  b.lengths.fill(0, from, to);
  requestHandshake(t, peer);
}

/**
 * Prepare the packets of `b` for sealing with their peers' current keypair: reserve a
 * counter each, write the transport header at data-16, zero-pad the plaintext to a
 * multiple of 16 (capped at the MTU) and fill one descriptor per sendable packet.
 * Returns the number of descriptors to pass to `sealBatch`. A packet without a usable
 * keypair gets length 0 and asks the control plane for a handshake; so does one that
 * crosses REKEY_AFTER_MESSAGES or, as initiator, REKEY_AFTER_TIME. Consecutive packets to
 * the same peer share one lookup and one counter reservation.
 */
export function prepareSeal(t: SharedTables, b: TransportBatch, now: number): number {
  const { i32, u8 } = t;
  let n = 0;
  for (let i = 0; i < b.count; ) {
    const peer = b.peers[i];
    let end = i + 1;
    while (end < b.count && b.peers[end] === peer) end++;
    const slot = keypairOf(t, peer, CURRENT);
    if (slot < 0) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    const flags = keypairFlags(t, slot);
    const age = now - keypairCreatedAt(t, slot);
    if ((flags & (KP_VALID | KP_SEND_ALLOWED | KP_EXPIRED)) !== (KP_VALID | KP_SEND_ALLOWED) || age >= REJECT_AFTER_TIME) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    const take = reserveCounters(t, slot, end - i, first);
    let lo = first[0];
    let hi = first[1];
    const lastHi = take > 0 && lo + take - 1 > 0xffffffff ? hi + 1 : hi; // of the last counter used
    if ((lastHi >= REKEY_HI || ((flags & KP_INITIATOR) !== 0 && age >= REKEY_AFTER_TIME)) && (addKeypairFlags(t, slot, KP_REKEY_REQUESTED) & KP_REKEY_REQUESTED) === 0) {
      requestHandshake(t, peer);
    }
    const keyPtr = sendKeyAddress(t, slot);
    const receiver = remoteIndex(t, slot);
    let bytes = 0;
    let data = 0;
    for (let k = i; k < i + take; k++) {
      const len = b.lengths[k];
      const at = b.data[k];
      const padded = Math.max(len, Math.min((len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), b.mtu));
      u8.fill(0, at + len, at + padded);
      writeTransportHeader(u8, at - TRANSPORT_HEADER_SIZE, receiver, lo, hi);
      writeDescriptor(i32, b.descPtr, n, keyPtr, lo, hi, at, padded);
      b.descPacket[n++] = k;
      const wire = TRANSPORT_HEADER_SIZE + padded + TAG_SIZE;
      b.lengths[k] = wire;
      bytes += wire;
      if (len > 0) data++;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi++;
    }
    if (take < end - i) unsendable(t, b, i + take, end, peer);
    if (take > 0) countSent(t, peer, take, data, bytes);
    i = end;
  }
  return n;
}
