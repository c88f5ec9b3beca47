/**
 * Host names in endpoints, resolved with the system resolver.
 * @module
 */
import { lookup } from "node:dns/promises";
import { AddressError, formatHostPort, ipFamily, parseHostPort } from "../protocol/address.js";

/**
 * Resolves an endpoint's host name (`dns.lookup`, so /etc/hosts and the system resolver
 * apply) to a numeric `address:port`. Numeric endpoints come back unchanged.
 *
 * The engine resolves every endpoint when the interface starts, and again when a peer
 * with a host-name endpoint stays silent past a handshake attempt, so a peer behind
 * dynamic DNS is found again after its address changes.
 * @throws {AddressError} when the text is not `host:port`, or the name does not resolve
 * @example await resolveEndpoint("hub.example:51820") // "198.18.0.1:51820"
 */
export async function resolveEndpoint(endpoint: string): Promise<string> {
  const hp = parseHostPort(endpoint);
  if (ipFamily(hp.host)) return formatHostPort(hp);
  try {
    const { address } = await lookup(hp.host);
    return formatHostPort({ host: address, port: hp.port });
  } catch (e) {
    throw new AddressError(`cannot resolve ${hp.host}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
