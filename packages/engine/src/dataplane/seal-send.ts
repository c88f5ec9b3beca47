/**
 * A worker's outbound half, shared by what it reads from the TUN, what it relays and what
 * it had staged: seal a compacted batch (one WASM call), then send it with one sendmmsg,
 * each packet to its peer's endpoint and from its peer's sticky local address. Packets
 * whose peer has no session yet are staged and the control plane is woken. With GSO, runs
 * of same-peer, same-size packets leave coalesced into one UDP_SEGMENT message, and after
 * the kernel refuses one, coalescing pauses for a while.
 */
import type { BatchControl } from "@taltun/io-shim";
import type { AeadInstance } from "@taltun/wasm-crypto";
import { copyEndpoint, LOCAL_BYTES, peerGeneration } from "../tables/peer-slot.js";
import { ENDPOINT_BYTES, type SharedTables } from "../tables/shared-tables.js";
import type { TransportBatch } from "../transport/batch.js";
import { prepareSeal } from "../transport/seal.js";
import type { BatchIo } from "./batch-io.js";
import { BATCH } from "./regions.js";
import { forgetRefusedSources } from "./refused-sources.js";
import type { Staging } from "./staging.js";
import { STAT } from "./stats.js";

/** Send batches without coalescing after the kernel refused a coalesced message (then it is tried again: the path may have changed). */
const GSO_PAUSE_BATCHES = 1024;

/** What a sender needs: the worker's memory view, tables, AEAD, I/O, staging queue and counters. */
export interface SealSenderOptions {
  u8: Uint8Array;
  tables: SharedTables;
  aead: AeadInstance;
  io: BatchIo;
  staging: Staging;
  /** SEND_COALESCE when the socket has GSO. */
  sendFlags: number;
  count: (stat: number, n?: number) => void;
  /** Wakes the control plane: a packet is waiting for a session. */
  signal: () => void;
}

/** One worker's seal-and-send step. */
export class SealSender {
  /** Plaintext lengths of a batch before sealing, to stage the packets that find no session. */
  private readonly plainLength = new Uint32Array(BATCH);
  /**
   * Send batches left to go without coalescing. The kernel builds a whole GSO message
   * before it refuses it (segments over the path MTU: a jumbo tunnel MTU on a 1500-byte
   * link), so after a refusal coalescing pauses instead of paying that copy each batch.
   */
  private plainSends = 0;

  constructor(private readonly o: SealSenderOptions) {}

  /**
   * Seals `k` compacted packets of `b` for their peers, then sends them with one sendmmsg
   * from their slots (`slot[j]`), with holes (length 0) for everything else among `n`:
   * each to its peer's endpoint (at `addrs`), from its peer's local address (at `locals`).
   */
  sealAndSend(
    b: TransportBatch, k: number, slot: Int32Array, sendLengths: Uint32Array, addrs: number, locals: number,
    cb: BatchControl, n: number, now: number, stat: number,
  ): void {
    const o = this.o;
    b.count = k;
    this.plainLength.set(b.lengths.subarray(0, k));
    const m = prepareSeal(o.tables, b, now);
    if (m > 0) {
      o.aead.sealBatch(b.descPtr, m);
      o.count(STAT.aeadCalls);
    }
    sendLengths.fill(0, 0, n);
    let ready = 0;
    let noSession = 0;
    for (let j = 0; j < k; j++) {
      const wire = b.lengths[j];
      if (wire === 0) {
        if (!o.staging.add(b.data[j], this.plainLength[j], b.peers[j], peerGeneration(o.tables, b.peers[j]))) o.count(STAT.droppedNoSession);
        noSession++;
        continue;
      }
      const i = slot[j];
      if (!copyEndpoint(o.tables, b.peers[j], addrs + i * ENDPOINT_BYTES, locals + i * LOCAL_BYTES)) {
        o.count(STAT.droppedNoEndpoint);
        continue;
      }
      sendLengths[i] = wire;
      ready++;
    }
    if (noSession > 0) {
      o.count(STAT.staged, noSession);
      o.signal();
    }
    if (ready === 0) return;
    cb.count = n;
    cb.flags = o.sendFlags;
    if (this.plainSends > 0) {
      this.plainSends--;
      cb.flags = 0;
    }
    const sent = o.io.udpSend(cb);
    o.count(STAT.ioCalls);
    if (sent < ready) o.count(STAT.sendErrors, ready - Math.max(sent, 0));
    o.count(stat, Math.max(sent, 0));
    if (cb.gsoFallbacks > 0) {
      o.count(STAT.gsoFallbacks, cb.gsoFallbacks);
      this.plainSends = GSO_PAUSE_BATCHES;
    }
    if (cb.fallbacks > 0) {
      o.count(STAT.sourceFallbacks, cb.fallbacks);
      forgetRefusedSources(o.u8, o.tables, b, k, slot, sendLengths, locals);
    }
  }
}
