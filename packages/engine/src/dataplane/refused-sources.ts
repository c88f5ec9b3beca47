/**
 * Sticky sources that the host no longer has. io-shim sends a packet whose local address
 * was refused (it left the host) from the kernel's choice instead, clears the family of
 * that record and keeps the address. The peers of those packets forget that address, so
 * what follows goes from the kernel's choice without a refusal each time, until the peer
 * reaches us at an address again (finishOpen learns it).
 */
import { forgetLocal, LOCAL_BYTES } from "../tables/peer-slot.js";
import type { SharedTables } from "../tables/shared-tables.js";
import type { TransportBatch } from "../transport/batch.js";

/**
 * Of the `k` packets of `b` sent from slots `slot[j]` (`sendLengths`, 0 = not sent), makes
 * each one's peer forget the local address io-shim marked refused in its record at `locals`.
 */
export function forgetRefusedSources(
  u8: Uint8Array, tables: SharedTables, b: TransportBatch, k: number, slot: Int32Array, sendLengths: Uint32Array, locals: number,
): void {
  for (let j = 0; j < k; j++) {
    const i = slot[j];
    const at = locals + i * LOCAL_BYTES;
    if (sendLengths[i] === 0 || (u8[at] | u8[at + 1]) !== 0) continue; // not sent, or sent from its source
    let refused = false; // family 0 with an address: io-shim's mark (a peer with no local address has none)
    for (let x = 4; x < LOCAL_BYTES - 4 && !refused; x++) refused = u8[at + x] !== 0;
    if (refused) forgetLocal(tables, b.peers[j], at);
  }
}
