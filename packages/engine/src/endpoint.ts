/**
 * Endpoints are opaque to the protocol core: a 28-byte record that the I/O layer
 * understands. Taltun uses the Linux sockaddr layout (sockaddr_in, or sockaddr_in6),
 * zero-padded to ENDPOINT_BYTES, so io-shim can hand received source addresses to the
 * core and take destinations from it without conversion. The cookie MAC binds to the
 * whole record (address and port), as the whitepaper's A_m.
 * @module
 */
import { ConfigError } from "./errors.js";
import { formatIp, parseIp } from "./ip.js";
import { ENDPOINT_BYTES } from "./shared-tables.js";

/** An endpoint record (ENDPOINT_BYTES bytes). */
export type Endpoint = Uint8Array;

const AF_INET = 2;
const AF_INET6 = 10;

/** "1.2.3.4:51820" or "[fd00::1]:51820" -> endpoint record. Throws ConfigError. */
export function parseEndpoint(text: string): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`not an endpoint (host:port): ${JSON.stringify(text)}`);
  const ip = parseIp(m[1]);
  const e = new Uint8Array(ENDPOINT_BYTES);
  const port = Number(m[2]);
  e[0] = ip.length === 4 ? AF_INET : AF_INET6;
  e[2] = port >> 8;
  e[3] = port & 255;
  e.set(ip, ip.length === 4 ? 4 : 8);
  return e;
}

/** Endpoint record -> "host:port" ("" for an all-zero record). */
export function formatEndpoint(e: Endpoint): string {
  const port = (e[2] << 8) | e[3];
  if (e[0] === AF_INET) return `${formatIp(e.subarray(4, 8))}:${port}`;
  if (e[0] === AF_INET6) return `[${formatIp(e.subarray(8, 24))}]:${port}`;
  return "";
}
