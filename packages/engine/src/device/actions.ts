/**
 * What the control plane asks its caller to do, or tells it: the Device's only output.
 * @module
 */
import type { HandshakeErrorCode } from "../protocol/errors.js";
import type { EndpointRecord } from "../tables/endpoint.js";

/** Something the caller must do, or may want to know. */
export type DeviceAction =
  | { type: "send"; peer: number; endpoint: EndpointRecord; bytes: Uint8Array; message: "initiation" | "response" | "cookie-reply" | "keepalive" }
  | { type: "keypair"; peer: number; role: "initiator" | "responder" }
  | { type: "handshake-failed"; peer: number }
  | { type: "keys-zeroed"; peer: number }
  | { type: "rejected"; peer: number; reason: HandshakeErrorCode };
