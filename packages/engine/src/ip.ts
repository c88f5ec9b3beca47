/**
 * Textual IPv4/IPv6 addresses and CIDR prefixes <-> bytes (RFC 4291 §2.2 text forms,
 * including "::" compression and a trailing dotted IPv4 part).
 * @module
 */
import { ConfigError } from "./errors.js";

/** An address or prefix: 4 or 16 bytes and a prefix length. */
export interface Prefix {
  bytes: Uint8Array;
  cidr: number;
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return null;
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  let tail: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".", lastColon)) {
    tail = parseV4(s.slice(lastColon + 1));
    if (!tail) return null;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const v = parseInt(all[i], 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 255;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Parse an IPv4 or IPv6 address; throws ConfigError. */
export function parseIp(s: string): Uint8Array {
  const b = s.includes(":") ? parseV6(s) : parseV4(s);
  if (!b) throw new ConfigError(`not an IP address: ${JSON.stringify(s)}`);
  return b;
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

/** Format 4 or 16 bytes as text (IPv6 with the longest zero run compressed). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Format a prefix as "addr/len". */
export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.bytes)}/${p.cidr}`;
}
