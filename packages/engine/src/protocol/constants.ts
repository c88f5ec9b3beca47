/**
 * Every constant of the WireGuard protocol, with its name from the whitepaper
 * (J. A. Donenfeld, "WireGuard: Next Generation Kernel Network Tunnel", §5 and §6),
 * plus the few sizes Taltun fixes for its own shared-memory layout.
 *
 * Times are milliseconds of the injected monotonic clock.
 * @module
 */

/** Noise protocol name hashed into the initial chaining key (whitepaper §5.4). */
export const CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/** Prologue mixed into the initial hash. */
export const IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
/** Label of the MAC1 key: HASH(LABEL_MAC1 || S_pub). */
export const LABEL_MAC1 = "mac1----";
/** Label of the cookie encryption key: HASH(LABEL_COOKIE || S_pub). */
export const LABEL_COOKIE = "cookie--";

/** After this many messages on one keypair, the initiator starts a new handshake: 2^60. */
export const REKEY_AFTER_MESSAGES = 2n ** 60n;
/** No message is sent or accepted on a keypair past this counter: 2^64 - 2^13 - 1. */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;
/** The initiator of a keypair starts a new handshake after it is this old. */
export const REKEY_AFTER_TIME = 120_000;
/** A keypair older than this is never used again. */
export const REJECT_AFTER_TIME = 180_000;
/** A handshake is retried for this long, then given up. */
export const REKEY_ATTEMPT_TIME = 90_000;
/** An unanswered initiation is retransmitted after this (plus jitter). */
export const REKEY_TIMEOUT = 5_000;
/** Maximum random jitter added to REKEY_TIMEOUT, so peers do not retry in lockstep. */
export const REKEY_TIMEOUT_JITTER_MAX = 333;
/** Passive keepalive delay, and the base of the "sent but nothing back" rule. */
export const KEEPALIVE_TIMEOUT = 10_000;
/** Lifetime of a cookie secret (responder) and of a received cookie (initiator). */
export const COOKIE_REFRESH_TIME = 120_000;
/** All key material of a peer is zeroed after this long without a new handshake. */
export const ZERO_KEY_MATERIAL_AFTER = 3 * REJECT_AFTER_TIME;
/** Minimum spacing of initiations accepted from one peer (wireguard-go's flood guard). */
export const HANDSHAKE_INITIATION_MIN_INTERVAL = 20;

/** Message type numbers (first byte, followed by three zero bytes). */
export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

/** Exact wire sizes. */
export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
/** type(4) + receiver index(4) + counter(8). */
export const TRANSPORT_HEADER_SIZE = 16;
/** Header plus the AEAD tag of an empty (keepalive) payload. */
export const TRANSPORT_MIN_SIZE = 32;
/** Plaintext of transport messages is zero-padded to a multiple of this. */
export const PADDING_MULTIPLE = 16;

/** Sizes of the primitives. */
export const KEY_SIZE = 32;
export const TAG_SIZE = 16;
export const HASH_SIZE = 32;
export const MAC_SIZE = 16;
export const TIMESTAMP_SIZE = 12;
export const COOKIE_SIZE = 16;
export const COOKIE_NONCE_SIZE = 24;

/**
 * Anti-replay ring (RFC 6479): 128 words of 32 bits = 4096 bits of bitmap, of which
 * one word is always being recycled, so the window accepts counters up to
 * REPLAY_WINDOW_SIZE = 4064 behind the highest one seen (more than the 2048 required).
 */
export const REPLAY_RING_WORDS = 128;
export const REPLAY_WINDOW_SIZE = (REPLAY_RING_WORDS - 1) * 32;
