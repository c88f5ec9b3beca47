/**
 * The four WireGuard messages (whitepaper §5.4), byte for byte. Each starts with a
 * little-endian u32 whose low byte is the type and whose three high bytes must be zero.
 * Decoders check the exact size and the type word and copy nothing they do not need to.
 * @module
 */
import {
  COOKIE_REPLY_SIZE,
  INITIATION_SIZE,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  RESPONSE_SIZE,
  TRANSPORT_MIN_SIZE,
} from "./constants.js";
import { HandshakeError } from "./errors.js";

/** Byte offsets inside the initiation (type 1, 148 bytes). */
export const INITIATION = { sender: 4, ephemeral: 8, static: 40, timestamp: 88, mac1: 116, mac2: 132 } as const;
/** Byte offsets inside the response (type 2, 92 bytes). */
export const RESPONSE = { sender: 4, receiver: 8, ephemeral: 12, empty: 44, mac1: 60, mac2: 76 } as const;
/** Byte offsets inside the cookie reply (type 3, 64 bytes). */
export const COOKIE_REPLY = { receiver: 4, nonce: 8, cookie: 32 } as const;
/** Byte offsets inside a transport message (type 4, 32 + n bytes). */
export const TRANSPORT = { receiver: 4, counter: 8, payload: 16 } as const;

/** Handshake initiation fields (views into the message bytes). */
export interface Initiation {
  senderIndex: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

/** Handshake response fields (views into the message bytes). */
export interface Response {
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array;
  encryptedNothing: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

/** Cookie reply fields (views into the message bytes). */
export interface CookieReply {
  receiverIndex: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >>> 8;
  b[off + 2] = v >>> 16;
  b[off + 3] = v >>> 24;
}

/**
 * The message type of a datagram: 1..4, or 0 when the first word is not a valid
 * type (reserved bytes non-zero, unknown type, or shorter than a transport message
 * header).
 */
export function messageType(b: Uint8Array, offset = 0, length = b.length - offset): number {
  if (length < 4) return 0;
  const t = u32(b, offset);
  if (t === MESSAGE_TRANSPORT) return length >= TRANSPORT_MIN_SIZE ? t : 0;
  return t >= MESSAGE_INITIATION && t <= MESSAGE_COOKIE_REPLY ? t : 0;
}

function expect(b: Uint8Array, type: number, size: number): void {
  if (b.length !== size) throw new HandshakeError("bad-size", `message type ${type} must be ${size} bytes, got ${b.length}`);
  if (u32(b, 0) !== type) throw new HandshakeError("bad-type", `expected message type ${type}`);
}

/** Decode a 148-byte initiation. Throws HandshakeError("bad-size" | "bad-type"). */
export function decodeInitiation(b: Uint8Array): Initiation {
  expect(b, MESSAGE_INITIATION, INITIATION_SIZE);
  const o = INITIATION;
  return {
    senderIndex: u32(b, o.sender),
    ephemeral: b.subarray(o.ephemeral, o.static),
    encryptedStatic: b.subarray(o.static, o.timestamp),
    encryptedTimestamp: b.subarray(o.timestamp, o.mac1),
    mac1: b.subarray(o.mac1, o.mac2),
    mac2: b.subarray(o.mac2, INITIATION_SIZE),
  };
}

/** Encode an initiation (mac1/mac2 as given; usually zero, then filled by the cookie layer). */
export function encodeInitiation(m: Initiation): Uint8Array {
  const b = new Uint8Array(INITIATION_SIZE);
  const o = INITIATION;
  putU32(b, 0, MESSAGE_INITIATION);
  putU32(b, o.sender, m.senderIndex);
  b.set(m.ephemeral, o.ephemeral);
  b.set(m.encryptedStatic, o.static);
  b.set(m.encryptedTimestamp, o.timestamp);
  b.set(m.mac1, o.mac1);
  b.set(m.mac2, o.mac2);
  return b;
}

/** Decode a 92-byte response. */
export function decodeResponse(b: Uint8Array): Response {
  expect(b, MESSAGE_RESPONSE, RESPONSE_SIZE);
  const o = RESPONSE;
  return {
    senderIndex: u32(b, o.sender),
    receiverIndex: u32(b, o.receiver),
    ephemeral: b.subarray(o.ephemeral, o.empty),
    encryptedNothing: b.subarray(o.empty, o.mac1),
    mac1: b.subarray(o.mac1, o.mac2),
    mac2: b.subarray(o.mac2, RESPONSE_SIZE),
  };
}

/** Encode a response. */
export function encodeResponse(m: Response): Uint8Array {
  const b = new Uint8Array(RESPONSE_SIZE);
  const o = RESPONSE;
  putU32(b, 0, MESSAGE_RESPONSE);
  putU32(b, o.sender, m.senderIndex);
  putU32(b, o.receiver, m.receiverIndex);
  b.set(m.ephemeral, o.ephemeral);
  b.set(m.encryptedNothing, o.empty);
  b.set(m.mac1, o.mac1);
  b.set(m.mac2, o.mac2);
  return b;
}

/** Decode a 64-byte cookie reply. */
export function decodeCookieReply(b: Uint8Array): CookieReply {
  expect(b, MESSAGE_COOKIE_REPLY, COOKIE_REPLY_SIZE);
  const o = COOKIE_REPLY;
  return {
    receiverIndex: u32(b, o.receiver),
    nonce: b.subarray(o.nonce, o.cookie),
    encryptedCookie: b.subarray(o.cookie, COOKIE_REPLY_SIZE),
  };
}

/** Encode a cookie reply. */
export function encodeCookieReply(m: CookieReply): Uint8Array {
  const b = new Uint8Array(COOKIE_REPLY_SIZE);
  putU32(b, 0, MESSAGE_COOKIE_REPLY);
  putU32(b, COOKIE_REPLY.receiver, m.receiverIndex);
  b.set(m.nonce, COOKIE_REPLY.nonce);
  b.set(m.encryptedCookie, COOKIE_REPLY.cookie);
  return b;
}

/**
 * Write the 16-byte transport header (type 4, receiver index, counter as two u32 halves,
 * little-endian) at `offset`. Allocation-free: used per packet by the data plane.
 */
export function writeTransportHeader(b: Uint8Array, offset: number, receiverIndex: number, counterLo: number, counterHi: number): void {
  putU32(b, offset, MESSAGE_TRANSPORT);
  putU32(b, offset + TRANSPORT.receiver, receiverIndex);
  putU32(b, offset + TRANSPORT.counter, counterLo);
  putU32(b, offset + TRANSPORT.counter + 4, counterHi);
}

/** Read a little-endian u32 at `offset` (header fields of transport messages). */
export function readU32(b: Uint8Array, offset: number): number {
  return u32(b, offset);
}

