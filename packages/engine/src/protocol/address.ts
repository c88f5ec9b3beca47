/**
 * IP addresses, prefixes (CIDR, RFC 4632; IPv6 text form RFC 4291 §2.2, canonical output
 * RFC 5952) and `host:port` endpoints, as the configuration and the UAPI write them: the
 * engine's one address module (endpoint records are io-shim's, see tables/endpoint.ts).
 * @module
 */
import { AF_INET, AF_INET6, formatIp as formatAddress, parseIp as parseAddress } from "@taltun/io-shim/address";

/** An IP prefix: an address and how many of its leading bits are significant. */
export interface IpNet {
  readonly family: 4 | 6;
  /** The address in canonical text form (RFC 5952 for IPv6). */
  readonly address: string;
  /** The prefix length: 0-32 for IPv4, 0-128 for IPv6. */
  readonly prefix: number;
  /** The address as 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

/** Text that is not an address, a prefix or an endpoint; `reason` says why. */
export class AddressError extends Error {
  override readonly name = "AddressError";
}

/**
 * Parses an IPv4 or IPv6 address (no prefix, no zone) into 4 or 16 bytes, with io-shim's
 * parser: the one the address records sent to the kernel are made with.
 * @throws {AddressError}
 */
export function parseIp(text: string): Uint8Array {
  try {
    return parseAddress(text).bytes;
  } catch {
    throw new AddressError("not an IP address");
  }
}

/** The family of an IP address text, or 0 when it is not one (like node:net's isIP). */
export function ipFamily(text: string): 0 | 4 | 6 {
  try {
    return parseAddress(text).family === AF_INET ? 4 : 6;
  } catch {
    return 0;
  }
}

/** Writes 4 or 16 address bytes as text, IPv6 in the canonical form of RFC 5952. */
export function formatIp(bytes: Uint8Array): string {
  return formatAddress(bytes.length === 4 ? AF_INET : AF_INET6, bytes);
}

/** True when bits past `prefix` are not all zero. */
function hasHostBits(bytes: Uint8Array, prefix: number): boolean {
  return !maskBytes(bytes, prefix).every((b, i) => b === bytes[i]);
}

/** A copy of `bytes` with every bit past `prefix` cleared. */
function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** How `parseIpNet` treats an address with bits set past its prefix. */
export type HostBits = "keep" | "reject" | "mask";

/**
 * Parses `address[/prefix]`. Without a prefix the net is one host (/32 or /128).
 * @param hostBits `"keep"` for an interface address (`100.64.0.1/24`), `"reject"` for a
 *   route or allowed IP in a configuration file (a typo there would silently route the
 *   wrong network), `"mask"` for the UAPI, where `wg` semantics clear them.
 * @throws {AddressError}
 * @example parseIpNet("192.168.50.0/24", "reject").prefix // 24
 */
export function parseIpNet(text: string, hostBits: HostBits): IpNet {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  let bytes: Uint8Array;
  try {
    bytes = parseIp(addr);
  } catch {
    throw new AddressError(`not an IP address or prefix (expected e.g. 100.64.0.0/10 or fd00::/64)`);
  }
  const family = bytes.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new AddressError(`prefix length must be 0-${max}`);
    prefix = Number(p);
  }
  if (hasHostBits(bytes, prefix)) {
    if (hostBits === "reject") {
      const net = formatIp(maskBytes(bytes, prefix));
      throw new AddressError(`host bits are set after /${prefix}; did you mean ${net}/${prefix}?`);
    }
    if (hostBits === "mask") bytes = maskBytes(bytes, prefix);
  }
  return { family, address: formatIp(bytes), prefix, bytes };
}

/** Writes a prefix as `address/prefix`. */
export function formatIpNet(net: IpNet): string {
  return `${net.address}/${net.prefix}`;
}

/** True when two prefixes share at least one address (one contains the other). */
export function ipNetsOverlap(a: IpNet, b: IpNet): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const ma = maskBytes(a.bytes, p);
  const mb = maskBytes(b.bytes, p);
  return ma.every((v, i) => v === mb[i]);
}

/** True when `outer` contains every address of `inner`. */
export function ipNetContains(outer: IpNet, inner: IpNet): boolean {
  return outer.prefix <= inner.prefix && ipNetsOverlap(outer, inner);
}

/** A `host:port` split apart; `host` has no brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Splits `host:port`, `1.2.3.4:port` or `[v6]:port`. The host may be a name.
 * @param portRange the smallest port accepted (0 lets the kernel choose, for a local address)
 * @throws {AddressError}
 */
export function parseHostPort(text: string, minPort = 1): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw new AddressError("expected host:port, e.g. 198.18.0.1:51820 or [fd00::1]:51820");
  const port = Number(m[2]);
  if (port < minPort || port > 65535) throw new AddressError(`port must be ${minPort}-65535`);
  const host = m[1];
  if (text.startsWith("[") && ipFamily(host) !== 6) throw new AddressError("brackets hold an IPv6 address");
  if (!ipFamily(host) && !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(host)) {
    throw new AddressError("not an IP address or host name");
  }
  return { host, port };
}

/** Writes a numeric endpoint the way `wg` does: IPv6 in brackets. */
export function formatHostPort({ host, port }: HostPort): string {
  return ipFamily(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
