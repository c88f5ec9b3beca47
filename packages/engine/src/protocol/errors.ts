/**
 * Typed errors of the protocol core. Every rejection carries a specific `code`, so the
 * control plane can count and log drops without parsing messages.
 * @module
 */

/** Why a handshake message or cookie reply was refused. */
export type HandshakeErrorCode =
  | "bad-size"
  | "bad-type"
  | "bad-mac1"
  | "unknown-peer"
  | "unknown-index"
  | "decrypt-failed"
  | "replayed-timestamp"
  | "flood"
  | "bad-dh"
  | "no-private-key"
  | "wrong-state";

/** A handshake message (initiation, response, cookie reply) was rejected. */
export class HandshakeError extends Error {
  override readonly name = "HandshakeError";
  constructor(
    readonly code: HandshakeErrorCode,
    message?: string,
  ) {
    super(message ?? code);
  }
}

/** What errors and logs show in place of a secret (a private or preshared key). */
export const REDACTED = "<redacted>";

/**
 * A configuration value that cannot be used, from a file, a flag, the UAPI or code. `key`
 * is its full path (`peers[1].allowed_ips[0]`), `value` its printable form (never a secret:
 * callers pass `<redacted>` for those), `reason` what is wrong in a few words; `message`
 * is `key: reason (got value)`.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly key: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason} (got ${value})`);
  }
}

/** The caller-provided shared region cannot hold the requested tables. */
export class LayoutError extends Error {
  override readonly name = "LayoutError";
}
