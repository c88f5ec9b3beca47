/**
 * Endpoints are opaque to the protocol core: a record the I/O layer understands. Taltun
 * uses io-shim's 24-byte address record (family, port, address, scope id), so received
 * source addresses go from recvmmsg to the core, and destinations from the core to
 * sendmmsg, as bytes, without conversion. The cookie MAC binds to the whole record
 * (address and port), as the whitepaper's A_m.
 * @module
 */
import { ADDR_SIZE, decodeEndpoint, encodeAddr } from "@taltun/io-shim/address";
import { ConfigError } from "../protocol/errors.js";

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

/** The rate-limit key of an endpoint: its address without the port (a copy; the record is untouched). */
export function addressKey(e: EndpointRecord): string {
  const k = Buffer.from(e);
  k[2] = k[3] = 0;
  return k.toString("hex");
}
