/**
 * CIDR prefixes <-> bytes for the allowed-IPs table; addresses themselves are read and
 * written by net-address.ts (RFC 4291 §2.2 text forms, RFC 5952 output).
 * @module
 */
import { ConfigError } from "./errors.js";
import { formatIp as formatAddress, parseIp as parseAddress } from "./address.js";

/** An address or prefix: 4 or 16 bytes and a prefix length. */
export interface Prefix {
  bytes: Uint8Array;
  cidr: number;
}

/** Parse an IPv4 or IPv6 address; throws ConfigError. */
export function parseIp(s: string): Uint8Array {
  try {
    return parseAddress(s);
  } catch {
    throw new ConfigError(`not an IP address: ${JSON.stringify(s)}`);
  }
}

/** Parse "addr/len" (no length: a host prefix); host bits are cleared. Throws ConfigError. */
export function parsePrefix(s: string): Prefix {
  const slash = s.indexOf("/");
  const bytes = parseIp(slash < 0 ? s : s.slice(0, slash));
  const max = bytes.length * 8;
  const cidr = slash < 0 ? max : Number(s.slice(slash + 1));
  if (!Number.isInteger(cidr) || cidr < 0 || cidr > max || (slash >= 0 && !/^\d+$/.test(s.slice(slash + 1)))) {
    throw new ConfigError(`bad prefix length in ${JSON.stringify(s)}`);
  }
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, cidr - 8 * i));
    bytes[i] &= (0xff00 >> keep) & 0xff;
  }
  return { bytes, cidr };
}

/** Format 4 or 16 bytes as text (IPv6 in the RFC 5952 form). */
export const formatIp = formatAddress;

/** Format a prefix as "addr/len". */
export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.bytes)}/${p.cidr}`;
}
