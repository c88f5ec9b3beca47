/**
 * The few facts the data plane reads from an inner IP header (RFC 791, RFC 8200): its
 * version, its true length (a decrypted packet carries WireGuard's padding to 16 bytes),
 * and where its addresses are. Read in place, allocating nothing.
 */

/** Offsets of the source and destination addresses, by IP version. */
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;

/**
 * The length an IPv4 or IPv6 packet declares, or 0 when the bytes are not a well-formed
 * packet that fits in `available` (too short, unknown version, bad header length).
 */
export function ipPacketLength(u8: Uint8Array, offset: number, available: number): number {
  if (available < 1) return 0;
  const version = u8[offset] >> 4;
  if (version === 4) {
    if (available < 20) return 0;
    const ihl = (u8[offset] & 0x0f) * 4;
    const total = (u8[offset + 2] << 8) | u8[offset + 3];
    return ihl >= 20 && total >= ihl && total <= available ? total : 0;
  }
  if (version === 6) {
    if (available < 40) return 0;
    const total = 40 + ((u8[offset + 4] << 8) | u8[offset + 5]);
    return total <= available ? total : 0;
  }
  return 0;
}
