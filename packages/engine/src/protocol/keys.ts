/**
 * WireGuard keys: Curve25519 (RFC 7748) private and public keys of 32 bytes, written in
 * base64 as `wg genkey` / `wg pubkey` print them. The Go Taltun wrote keys in hex; those
 * are accepted on input so its configurations keep working.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { generatePrivateKey as generateClamped, publicKeyOf } from "./dh.js";

/** Length in bytes of every WireGuard key (private, public, preshared). */
export const KEY_LENGTH = 32;

/** A key that could not be read: `what` names it ("private key", "peers[1].public_key"). */
export class KeyFormatError extends Error {
  override readonly name = "KeyFormatError";
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what}: ${reason}`);
  }
}

/**
 * Generates a new private key from the system's CSPRNG, clamped like `wg genkey`'s.
 * @example encodeKey(generatePrivateKey()) // "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
 */
export function generatePrivateKey(): Uint8Array {
  return generateClamped();
}

/**
 * The public key of a private key (X25519 with the base point), as `wg pubkey` computes it.
 * @example encodeKey(publicKeyFrom(parseKey(text, "private key")))
 */
export function publicKeyFrom(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== KEY_LENGTH) throw new KeyFormatError("private key", `must be ${KEY_LENGTH} bytes`);
  return publicKeyOf(privateKey);
}

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * Reads a key written in base64 (44 characters, as `wg` prints) or hex (64 characters, as
 * the Go Taltun and the UAPI write). Surrounding whitespace is ignored. The error never
 * contains the text itself, since it may be a private key.
 * @param what names the key in the error message, e.g. `"peers[0].public_key"`
 * @throws {KeyFormatError}
 * @example parseKey("y5AWVAZneUUfCxT7AhsYxXEGaFyIn1g4eGxkhSuVchs=", "public key")
 */
export function parseKey(text: string, what: string): Uint8Array {
  const t = text.trim();
  if (HEX_KEY.test(t)) return new Uint8Array(Buffer.from(t, "hex"));
  // The last character's class guarantees the unused low bits are zero: a canonical key.
  if (BASE64_KEY.test(t)) return new Uint8Array(Buffer.from(t, "base64"));
  if (t.length === 0) throw new KeyFormatError(what, "is empty");
  throw new KeyFormatError(
    what,
    `is not a key: expected 44 characters of base64 (as \`wg genkey\` prints) or 64 hex digits, got ${t.length} characters`,
  );
}

/** Writes a key in base64, the form `wg` prints. */
export function encodeKey(key: Uint8Array): string {
  if (key.length !== KEY_LENGTH) throw new KeyFormatError("key", `must be ${KEY_LENGTH} bytes`);
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString("base64");
}

/** Writes a key in lowercase hex, the form of the WireGuard UAPI. */
export function encodeKeyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString("hex");
}

/** True when two keys are equal, compared in constant time (private and preshared keys too). */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
