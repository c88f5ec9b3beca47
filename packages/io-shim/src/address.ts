/**
 * IP addresses, CIDRs, the 24-byte peer address record shared with the C side:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | u16 | family: 2 = IPv4, 10 = IPv6 |
 * | 2 | u16 | port, host byte order |
 * | 4 | 16 | address: IPv4 in the first 4 bytes, network order |
 * | 20 | u32 | IPv6 scope id |
 *
 * and the 24-byte local address record (where a datagram arrived; where a reply leaves from):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | u16 | family: 2 = IPv4, 10 = IPv6, 0 = none |
 * | 2 | u16 | reserved, 0 |
 * | 4 | 16 | address: IPv4 in the first 4 bytes, network order |
 * | 20 | u32 | interface index (received on; a send uses it only for an IPv6 link-local source) |
 *
 * These helpers are for the control plane (they allocate); the data plane compares and
 * copies records as bytes.
 * @module
 */

/** Size of a peer address record in bytes. */
export const ADDR_SIZE = 24;
/** Record field offsets. */
export const ADDR_FAMILY = 0;
export const ADDR_PORT = 2;
export const ADDR_BYTES = 4;
export const ADDR_SCOPE_ID = 20;
/** Size of a local address record in bytes, and its field offsets. */
export const LOCAL_SIZE = 24;
export const LOCAL_FAMILY = 0;
export const LOCAL_ADDRESS = 4;
export const LOCAL_IFINDEX = 20;
/** Linux address families. */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** A parsed IP address: family and 4 or 16 bytes in network order. */
export interface IpAddress {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Uint8Array;
}

/** An endpoint: address, port and (IPv6 link-local) scope id. */
export interface Endpoint extends IpAddress {
  port: number;
  scopeId: number;
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9]\d{0,2})$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const res: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (!v4) return null;
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        res.push(parseInt(p, 16));
      }
    }
    return res;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Parses `198.18.0.1` or `fd00::1` (no brackets, no port). Throws a TypeError when invalid. */
export function parseIp(s: string): IpAddress {
  const v4 = parseV4(s);
  if (v4) return { family: AF_INET, bytes: v4 };
  const v6 = parseV6(s);
  if (v6) return { family: AF_INET6, bytes: v6 };
  throw new TypeError(`invalid IP address: ${JSON.stringify(s)}`);
}

/** Formats 4 or 16 address bytes (IPv6 in RFC 5952 form: longest zero run compressed). */
export function formatIp(family: number, bytes: Uint8Array): string {
  if (family === AF_INET) return Array.from(bytes.subarray(0, 4)).join(".");
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Parses a CIDR such as `100.64.0.1/24` or `fd00::1/64` (no prefix: /32 or /128). */
export function parseCidr(s: string): IpAddress & { prefix: number } {
  const [ip, pfx, extra] = s.split("/");
  if (extra !== undefined) throw new TypeError(`invalid CIDR: ${JSON.stringify(s)}`);
  const addr = parseIp(ip);
  const max = addr.family === AF_INET ? 32 : 128;
  if (pfx === undefined) return { ...addr, prefix: max };
  if (!/^\d{1,3}$/.test(pfx) || Number(pfx) > max) throw new TypeError(`invalid prefix in CIDR: ${JSON.stringify(s)}`);
  return { ...addr, prefix: Number(pfx) };
}

/** Parses `198.18.0.1:51820`, `[fd00::1]:51820` or `[fe80::1%3]:51820` (numeric scope). */
export function parseEndpoint(s: string): Endpoint {
  const m = /^(?:\[([^\]%]+)(?:%(\d+))?\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) throw new TypeError(`invalid endpoint (want host:port or [v6]:port): ${JSON.stringify(s)}`);
  const port = Number(m[4]);
  if (port > 65535) throw new TypeError(`invalid port in endpoint: ${JSON.stringify(s)}`);
  const addr = parseIp(m[1] ?? m[3]);
  if (m[1] !== undefined && addr.family !== AF_INET6) throw new TypeError(`brackets hold an IPv6 address: ${s}`);
  if (m[3] !== undefined && addr.family !== AF_INET) throw new TypeError(`IPv6 endpoints need brackets: ${s}`);
  return { ...addr, port, scopeId: m[2] ? Number(m[2]) : 0 };
}

/** Formats an endpoint as `198.18.0.1:51820` or `[fd00::1]:51820`. */
export function formatEndpoint(e: Endpoint): string {
  const ip = formatIp(e.family, e.bytes);
  if (e.family === AF_INET) return `${ip}:${e.port}`;
  return `[${ip}${e.scopeId ? `%${e.scopeId}` : ""}]:${e.port}`;
}

/** Writes the record for `endpoint` (a string or parsed) at `offset` of `mem`. */
export function encodeAddr(mem: Uint8Array, offset: number, endpoint: string | Endpoint): void {
  const e = typeof endpoint === "string" ? parseEndpoint(endpoint) : endpoint;
  if (offset < 0 || offset + ADDR_SIZE > mem.length) throw new RangeError(`address record at ${offset} is outside the memory`);
  const dv = new DataView(mem.buffer, mem.byteOffset + offset, ADDR_SIZE);
  mem.fill(0, offset, offset + ADDR_SIZE);
  dv.setUint16(ADDR_FAMILY, e.family, true);
  dv.setUint16(ADDR_PORT, e.port, true);
  mem.set(e.bytes.subarray(0, e.family === AF_INET ? 4 : 16), offset + ADDR_BYTES);
  dv.setUint32(ADDR_SCOPE_ID, e.scopeId, true);
}

/** Reads the record at `offset` of `mem`. Throws on an unknown family. */
export function decodeAddr(mem: Uint8Array, offset: number): Endpoint {
  if (offset < 0 || offset + ADDR_SIZE > mem.length) throw new RangeError(`address record at ${offset} is outside the memory`);
  const dv = new DataView(mem.buffer, mem.byteOffset + offset, ADDR_SIZE);
  const family = dv.getUint16(ADDR_FAMILY, true);
  if (family !== AF_INET && family !== AF_INET6) throw new TypeError(`address record at ${offset}: unknown family ${family}`);
  const len = family === AF_INET ? 4 : 16;
  return {
    family,
    port: dv.getUint16(ADDR_PORT, true),
    bytes: mem.slice(offset + ADDR_BYTES, offset + ADDR_BYTES + len),
    scopeId: dv.getUint32(ADDR_SCOPE_ID, true),
  };
}

/** Decodes the record at `offset` straight to an endpoint string. */
export function decodeEndpoint(mem: Uint8Array, offset: number): string {
  return formatEndpoint(decodeAddr(mem, offset));
}

/** A local address: where a datagram arrived, or where one is to leave from. */
export interface LocalAddress extends IpAddress {
  /** The interface it arrived on (0: unknown); sends use it only for IPv6 link-local. */
  ifindex: number;
}

/**
 * Writes a local address record at `offset` of `mem`: `address` (`198.18.0.1`, `fd00::1`)
 * and `ifindex`, or the empty record (family 0: the kernel picks the source) for null.
 */
export function encodeLocal(mem: Uint8Array, offset: number, address: string | IpAddress | null, ifindex = 0): void {
  if (offset < 0 || offset + LOCAL_SIZE > mem.length) throw new RangeError(`local address record at ${offset} is outside the memory`);
  if (!Number.isInteger(ifindex) || ifindex < 0 || ifindex > 0xffffffff) throw new RangeError(`ifindex ${ifindex} is not a u32`);
  mem.fill(0, offset, offset + LOCAL_SIZE);
  if (address === null) return;
  const a = typeof address === "string" ? parseIp(address) : address;
  const dv = new DataView(mem.buffer, mem.byteOffset + offset, LOCAL_SIZE);
  dv.setUint16(LOCAL_FAMILY, a.family, true);
  mem.set(a.bytes.subarray(0, a.family === AF_INET ? 4 : 16), offset + LOCAL_ADDRESS);
  dv.setUint32(LOCAL_IFINDEX, ifindex, true);
}

/** Reads the local address record at `offset` of `mem`; null for family 0 (none). */
export function decodeLocal(mem: Uint8Array, offset: number): LocalAddress | null {
  if (offset < 0 || offset + LOCAL_SIZE > mem.length) throw new RangeError(`local address record at ${offset} is outside the memory`);
  const dv = new DataView(mem.buffer, mem.byteOffset + offset, LOCAL_SIZE);
  const family = dv.getUint16(LOCAL_FAMILY, true);
  if (family === 0) return null;
  if (family !== AF_INET && family !== AF_INET6) throw new TypeError(`local address record at ${offset}: unknown family ${family}`);
  const len = family === AF_INET ? 4 : 16;
  return { family, bytes: mem.slice(offset + LOCAL_ADDRESS, offset + LOCAL_ADDRESS + len), ifindex: dv.getUint32(LOCAL_IFINDEX, true) };
}

/** The address of the local record at `offset` as text (`198.18.0.2`), "" for none. */
export function formatLocal(mem: Uint8Array, offset: number): string {
  const l = decodeLocal(mem, offset);
  return l ? formatIp(l.family, l.bytes) : "";
}
