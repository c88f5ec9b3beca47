/**
 * Endpoints are opaque to the protocol core: a record the I/O layer understands. Taltun
 * uses io-shim's 24-byte address record (family, port, address, scope id), so received
 * source addresses go from recvmmsg to the core, and destinations from the core to
 * sendmmsg, as bytes, without conversion. The cookie MAC binds to the whole record
 * (address and port), as the whitepaper's A_m.
 * @module
 */
import { ADDR_BYTES, ADDR_FAMILY, ADDR_SIZE, AF_INET6, decodeEndpoint, encodeAddr } from "@taltun/io-shim/address";
import { ConfigError } from "../protocol/errors.js";
import type { RateLimiter } from "../protocol/ratelimiter.js";

/** An endpoint record (ENDPOINT_BYTES bytes): io-shim's address record, as the data plane sends to and receives from. */
export type EndpointRecord = Uint8Array;

/** "1.2.3.4:51820" or "[fd00::1]:51820" -> endpoint record. Throws ConfigError. */
export function parseEndpoint(text: string): EndpointRecord {
  const e = new Uint8Array(ADDR_SIZE);
  try {
    encodeAddr(e, 0, text);
  } catch (err) {
    throw new ConfigError("endpoint", JSON.stringify(text.slice(0, 64)), `not a numeric host:port (${(err as Error).message.replace(/:.*$/, "")})`);
  }
  return e;
}

/** EndpointRecord record -> "host:port" ("" for an empty record). */
export function formatEndpoint(e: EndpointRecord): string {
  return e[0] === 0 && e[1] === 0 ? "" : decodeEndpoint(e, 0);
}

// Four bytes of u8 from `at`, little-endian: a key word, nothing more.
const word = (u8: Uint8Array, at: number): number => u8[at] | (u8[at + 1] << 8) | (u8[at + 2] << 16) | (u8[at + 3] << 24);

/**
 * Takes a handshake token for the source whose endpoint record is at `u8[at..]`. The key is
 * its address without the port, an IPv6 address by its /64: one host is given a whole /64,
 * so a finer key would hand it 2^64 buckets (wireguard-go and the kernel's WireGuard key the
 * same way; IPv4-mapped sources arrive as IPv4 records). Reads the record in place and
 * allocates nothing, so a flood costs no garbage.
 */
export function allowSource(limiter: RateLimiter, u8: Uint8Array, at: number, now: number): boolean {
  const family = u8[at + ADDR_FAMILY] | (u8[at + ADDR_FAMILY + 1] << 8);
  const a = at + ADDR_BYTES;
  return limiter.allow(family, word(u8, a), family === AF_INET6 ? word(u8, a + 4) : 0, now);
}
