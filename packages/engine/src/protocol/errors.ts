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

/** A configuration value handed to the device was invalid. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The caller-provided shared region cannot hold the requested tables. */
export class LayoutError extends Error {
  override readonly name = "LayoutError";
}
