/**
 * What the device reports of itself for `show`, the UAPI and the metrics: per-peer figures
 * read from the shared tables, and the control plane's handshake counts.
 * @module
 */
import type { HandshakeErrorCode } from "../protocol/errors.js";
import type { EndpointRecord } from "../tables/endpoint.js";
import { endpointSequence, transferred } from "../tables/peer-slot.js";
import { pollEndpoint } from "./poll.js";
import type { DeviceState } from "./state.js";

/** Per-peer figures for `show`. */
export interface PeerStats {
  slot: number;
  publicKey: Uint8Array;
  endpoint: EndpointRecord | null;
  allowedIps: string[];
  /** Wall-clock ms of the latest handshake, 0 = never. */
  lastHandshake: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number;
}

/** Figures of every peer, for `show` and the UAPI. */
export function peerStats(s: DeviceState): PeerStats[] {
  return [...s.peersBySlot.values()].map((p) => {
    // Workers move endpoints between ticks: report where the peer is now.
    if (endpointSequence(s.tables, p.slot) !== p.polled.endpointSeq) pollEndpoint(s, p);
    return {
      slot: p.slot,
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      allowedIps: s.allowedIps.prefixesOf(p.slot),
      lastHandshake: p.lastHandshakeWall,
      ...transferred(s.tables, p.slot),
      persistentKeepalive: p.timers.persistentInterval / 1000,
    };
  });
}

/** Handshake messages the control plane rejected, by reason, and the cookie replies it sent (the workers count their own). */
export function handshakeCounts(s: DeviceState): { rejected: Partial<Record<HandshakeErrorCode, number>>; cookieReplies: number } {
  const { rejected, cookieReplies } = s.counts;
  return { rejected: Object.fromEntries(rejected), cookieReplies };
}
