/**
 * Endpoints are opaque to the protocol core: a record the I/O layer understands. Taltun
 * uses io-shim's 24-byte address record (family, port, address, scope id), so received
 * source addresses go from recvmmsg to the core, and destinations from the core to
 * sendmmsg, as bytes, without conversion. The cookie MAC binds to the whole record
 * (address and port), as the whitepaper's A_m.
 * @module
 */
import { ADDR_SIZE, decodeEndpoint, encodeAddr } from "@taltun/io-shim";
import { ConfigError } from "../protocol/errors.js";

/** An endpoint record (ENDPOINT_BYTES bytes). */
export type Endpoint = Uint8Array;

/** "1.2.3.4:51820" or "[fd00::1]:51820" -> endpoint record. Throws ConfigError. */
export function parseEndpoint(text: string): Endpoint {
  const e = new Uint8Array(ADDR_SIZE);
  try {
    encodeAddr(e, 0, text);
  } catch (err) {
    throw new ConfigError(`not an endpoint (host:port): ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  return e;
}

/** Endpoint record -> "host:port" ("" for an empty record). */
export function formatEndpoint(e: Endpoint): string {
  return e[0] === 0 && e[1] === 0 ? "" : decodeEndpoint(e, 0);
}
