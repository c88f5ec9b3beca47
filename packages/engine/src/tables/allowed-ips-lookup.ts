/**
 * Longest-prefix match on an allowed-IPs snapshot, as the data plane does it per packet:
 * over the flat Int32Array alone (it may sit in a SharedArrayBuffer a worker was handed),
 * allocating nothing.
 * @module
 */
import { bitAt } from "./allowed-ips-trie.js";

const addr = new Int32Array(4);

function lookupWords(t: Int32Array, root: number, maxBits: number): number {
  let node = root;
  let best = -1;
  while (node >= 0) {
    const cidr = t[node + 3];
    let rem = cidr;
    for (let w = 0; rem > 0; w++, rem -= 32) {
      const mask = rem >= 32 ? -1 : ~0 << (32 - rem);
      if (((addr[w] ^ t[node + 4 + w]) & mask) !== 0) return best;
    }
    if (t[node + 2] >= 0) best = t[node + 2];
    if (cidr === maxBits) return best;
    node = t[node + bitAt(addr, cidr)];
  }
  return best;
}

/**
 * Longest-prefix match of the address of `length` (4 or 16) bytes at `bytes[offset]` in
 * `snapshot`: the peer slot number, or -1. Allocation-free.
 */
export function lookupAddress(snapshot: Int32Array, bytes: Uint8Array, offset: number, length: 4 | 16): number {
  addr.fill(0);
  for (let i = 0; i < length; i++) addr[i >> 2] |= bytes[offset + i] << (24 - 8 * (i & 3));
  return lookupWords(snapshot, snapshot[length === 4 ? 0 : 1], length * 8);
}

/**
 * The peer for the source (`which` = "source") or destination address of the IPv4/IPv6
 * packet whose header starts at `bytes[offset]`, or -1 (no match, or not an IP packet).
 */
export function lookupPacket(snapshot: Int32Array, bytes: Uint8Array, offset: number, length: number, which: "source" | "destination"): number {
  if (length < 1) return -1;
  const version = bytes[offset] >> 4;
  if (version === 4 && length >= 20) return lookupAddress(snapshot, bytes, offset + (which === "source" ? 12 : 16), 4);
  if (version === 6 && length >= 40) return lookupAddress(snapshot, bytes, offset + (which === "source" ? 8 : 24), 16);
  return -1;
}
