/**
 * Sending transport data (whitepaper §5.4.6), the worker's side, per batch: see
 * transport.ts for the whole path.
 * @module
 */
import { PADDING_MULTIPLE, REJECT_AFTER_TIME, REKEY_AFTER_TIME, TAG_SIZE, TRANSPORT_HEADER_SIZE } from "../protocol/constants.js";
import { writeTransportHeader } from "../protocol/messages.js";
import {
  K_CREATED_BYTE,
  K_FLAGS,
  K_REMOTE_INDEX,
  K_SEND_HI,
  K_SEND_KEY_BYTE,
  K_SEND_LO,
  K_SEND_LOCK,
  KP_EXPIRED,
  KP_INITIATOR,
  KP_REKEY_REQUESTED,
  KP_SEND_ALLOWED,
  KP_VALID,
  P_CURRENT,
  P_FLAGS,
  P_TX_BYTES_LO,
  P_TX_DATA,
  P_TX_PACKETS,
  PEER_WANT_HANDSHAKE,
  type SharedTables,
} from "../tables/shared-tables.js";
import { add64, REJECT_HI, REJECT_LO, writeDesc, type TransportBatch } from "./batch.js";

/** REKEY_AFTER_MESSAGES = 2^60: the high word reaches 2^28. */
const REKEY_HI = 2 ** 28;

function requestHandshake(t: SharedTables, peer: number): void {
  Atomics.or(t.i32, t.peerWord(peer, P_FLAGS), PEER_WANT_HANDSHAKE);
}

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
 * keypair gets length 0 and asks the control plane for a handshake (PEER_WANT_HANDSHAKE);
 * so does one that crosses REKEY_AFTER_MESSAGES or, as initiator, REKEY_AFTER_TIME.
 * Consecutive packets to the same peer share one lookup and one counter reservation.
 */
export function prepareSeal(t: SharedTables, b: TransportBatch, now: number): number {
  const { i32, u8, f64 } = t;
  let n = 0;
  for (let i = 0; i < b.count; ) {
    const peer = b.peers[i];
    let end = i + 1;
    while (end < b.count && b.peers[end] === peer) end++;
    const slot = t.keypairOf(peer, P_CURRENT);
    if (slot < 0) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    const fw = t.keypairWord(slot, K_FLAGS);
    const flags = Atomics.load(i32, fw);
    const age = now - f64[t.keypairByte(slot, K_CREATED_BYTE) >> 3];
    if ((flags & (KP_VALID | KP_SEND_ALLOWED | KP_EXPIRED)) !== (KP_VALID | KP_SEND_ALLOWED) || age >= REJECT_AFTER_TIME) {
      unsendable(t, b, i, end, peer);
      i = end;
      continue;
    }
    // Reserve the whole run's counters at once, never reaching REJECT_AFTER_MESSAGES.
    const lockWord = t.keypairWord(slot, K_SEND_LOCK);
    t.lock(lockWord);
    let lo = i32[lockWord - K_SEND_LOCK + K_SEND_LO] >>> 0;
    let hi = i32[lockWord - K_SEND_LOCK + K_SEND_HI] >>> 0;
    const available = hi === REJECT_HI ? Math.max(0, REJECT_LO - lo) : Infinity;
    const take = Math.min(end - i, available);
    const nextLo = lo + take;
    i32[lockWord - K_SEND_LOCK + K_SEND_LO] = nextLo;
    if (nextLo > 0xffffffff) i32[lockWord - K_SEND_LOCK + K_SEND_HI] = hi + 1;
    t.unlock(lockWord);
    const lastHi = take > 0 && lo + take - 1 > 0xffffffff ? hi + 1 : hi; // of the last counter used
    if ((lastHi >= REKEY_HI || ((flags & KP_INITIATOR) !== 0 && age >= REKEY_AFTER_TIME)) && (Atomics.or(i32, fw, KP_REKEY_REQUESTED) & KP_REKEY_REQUESTED) === 0) {
      requestHandshake(t, peer);
    }
    const keyPtr = t.keypairByte(slot, K_SEND_KEY_BYTE);
    const remoteIndex = i32[t.keypairWord(slot, K_REMOTE_INDEX)] >>> 0;
    let bytes = 0;
    let data = 0;
    for (let k = i; k < i + take; k++) {
      const len = b.lengths[k];
      const at = b.data[k];
      const padded = Math.max(len, Math.min((len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), b.mtu));
      u8.fill(0, at + len, at + padded);
      writeTransportHeader(u8, at - TRANSPORT_HEADER_SIZE, remoteIndex, lo, hi);
      writeDesc(i32, b.descPtr, n, keyPtr, lo, hi, at, padded);
      b.descPacket[n++] = k;
      const wire = TRANSPORT_HEADER_SIZE + padded + TAG_SIZE;
      b.lengths[k] = wire;
      bytes += wire;
      if (len > 0) data++;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi++;
    }
    if (take < end - i) unsendable(t, b, i + take, end, peer);
    if (take > 0) {
      add64(i32, t.peerWord(peer, P_TX_BYTES_LO), bytes);
      Atomics.add(i32, t.peerWord(peer, P_TX_PACKETS), take);
      if (data > 0) Atomics.add(i32, t.peerWord(peer, P_TX_DATA), data);
    }
    i = end;
  }
  return n;
}
