/**
 * Interop evidence: an initiation captured from Debian's wireguard-go
 * (scripts/capture-wg-initiation.sh) is consumed by our responder, and our response is
 * checked field by field with an independent, step-by-step replay of the initiator's
 * side of the whitepaper (§5.4.2-§5.4.5), using the captured keys.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createSharedMemory, HEAP_BASE, open } from "./aead.js";
import { ManualClock } from "./clock.js";
import { Device } from "../device/device.js";
import { parseEndpoint } from "../tables/endpoint.js";
import { CONSTRUCTION, IDENTIFIER, LABEL_MAC1 } from "./constants.js";
import { CookieChecker, CookieGenerator } from "./cookie.js";
import { dh, generatePrivateKey, publicKeyOf } from "./dh.js";
import { hash, kdf1, kdf2, kdf3, mac } from "./kdf.js";
import { decodeInitiation, decodeResponse } from "./messages.js";
import { consumeInitiation, createResponse, precomputeStaticStatic } from "./noise.js";

const capture = JSON.parse(readFileSync(new URL("../../test/wireguard-go-initiation.json", import.meta.url), "utf8"));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const te = new TextEncoder();
const nonce0 = new Uint8Array(12);

describe("interop with wireguard-go", () => {
  const iPriv = b64(capture.initiatorPrivateKey);
  const iPub = b64(capture.initiatorPublicKey);
  const rPriv = b64(capture.responderPrivateKey);
  const rPub = b64(capture.responderPublicKey);
  const bytes = new Uint8Array(Buffer.from(capture.initiationHex, "hex"));
  const responder = { privateKey: rPriv, publicKey: rPub };
  const psk = new Uint8Array(32);

  it("our public key derivation matches wg pubkey", () => {
    expect(publicKeyOf(iPriv)).toEqual(iPub);
    expect(publicKeyOf(rPriv)).toEqual(rPub);
  });

  it("accepts the captured initiation and answers with a response wireguard-go would accept", () => {
    expect(bytes.length).toBe(148);
    expect(new CookieChecker(rPub).checkMac1(bytes)).toBe(true);
    const peer = { remoteStatic: iPub, presharedKey: psk, staticStatic: precomputeStaticStatic(responder, iPub) };
    const consumed = consumeInitiation(responder, bytes, (pub) => (Buffer.compare(pub, iPub) === 0 ? peer : undefined));
    expect(consumed.remoteStatic).toEqual(iPub);
    // The TAI64N timestamp is the capture time, to within a few seconds.
    const seconds = Number(Buffer.from(consumed.timestamp.subarray(0, 8)).readBigUInt64BE() - (2n ** 62n + 10n));
    expect(Math.abs(seconds * 1000 - Date.parse(capture.capturedAt))).toBeLessThan(10_000);

    const ePriv = generatePrivateKey();
    const ePrivCopy = ePriv.slice();
    const { message, keys } = createResponse(consumed.state, peer, 0xa1b2c3d4, ePriv);
    expect(ePriv.every((b) => b === 0)).toBe(true);

    // Replay the initiator's computation independently.
    const init = decodeInitiation(bytes);
    const resp = decodeResponse(message);
    expect(message.length).toBe(92);
    expect(Array.from(message.subarray(0, 4))).toEqual([2, 0, 0, 0]);
    expect(resp.senderIndex).toBe(0xa1b2c3d4);
    expect(resp.receiverIndex).toBe(init.senderIndex);
    expect(resp.ephemeral).toEqual(publicKeyOf(ePrivCopy));

    let c = hash(te.encode(CONSTRUCTION));
    let h = hash(hash(c, te.encode(IDENTIFIER)), rPub);
    c = kdf1(c, init.ephemeral);
    h = hash(h, init.ephemeral);
    let k: Uint8Array;
    [c, k] = kdf2(c, dh(rPriv, init.ephemeral)); // = DH(E_i, S_r)
    expect(open(k, nonce0, init.encryptedStatic, h)).toEqual(iPub);
    h = hash(h, init.encryptedStatic);
    [c, k] = kdf2(c, dh(iPriv, rPub));
    expect(open(k, nonce0, init.encryptedTimestamp, h)).toEqual(consumed.timestamp);
    h = hash(h, init.encryptedTimestamp);
    // Response, as the initiator processes it.
    c = kdf1(c, resp.ephemeral);
    h = hash(h, resp.ephemeral);
    c = kdf1(c, dh(ePrivCopy, init.ephemeral)); // = DH(E_i, E_r)
    c = kdf1(c, dh(iPriv, resp.ephemeral)); // DH(S_i, E_r)
    const [c3, tau, k3] = kdf3(c, psk);
    [c, k] = [c3, k3];
    h = hash(h, tau);
    expect(open(k, nonce0, resp.encryptedNothing, h)).toEqual(new Uint8Array(0));
    const [sendI, recvI] = kdf2(c, new Uint8Array(0));
    expect(keys.receive).toEqual(sendI);
    expect(keys.send).toEqual(recvI);
    // The cookie layer stamps MAC1 keyed by the initiator's public key; no cookie: MAC2 zero.
    new CookieGenerator(iPub).addMacs(message, 0);
    expect(message.subarray(60, 76)).toEqual(mac(hash(te.encode(LABEL_MAC1), iPub), message.subarray(0, 60)));
    expect(message.subarray(76, 92)).toEqual(new Uint8Array(16));
  });
});

describe("interop with wireguard-go through the Device", () => {
  it("answers the captured initiation with a response whose MAC1 wireguard-go checks", () => {
    const memory = createSharedMemory(4 << 20);
    const device = new Device({ privateKey: b64(capture.responderPrivateKey), memory, base: HEAP_BASE, clock: new ManualClock() });
    const slot = device.addPeer({ publicKey: b64(capture.initiatorPublicKey), allowedIps: ["100.64.77.1/32"] });
    const source = parseEndpoint("127.0.0.1:40000");
    const bytes = new Uint8Array(Buffer.from(capture.initiationHex, "hex"));
    const actions = device.handleHandshakeMessage(bytes, source, 0);
    expect(actions).toContainEqual({ type: "keypair", peer: slot, role: "responder" });
    const send = actions.find((a) => a.type === "send") as { bytes: Uint8Array; endpoint: Uint8Array; message: string };
    expect(send.message).toBe("response");
    expect(send.endpoint).toEqual(source);
    // MAC1 keyed by HASH(LABEL_MAC1 || initiator's public key), over bytes 0..59; MAC2 zero.
    const m = send.bytes;
    expect(m.subarray(60, 76)).toEqual(mac(hash(te.encode(LABEL_MAC1), b64(capture.initiatorPublicKey)), m.subarray(0, 60)));
    expect(m.subarray(76, 92)).toEqual(new Uint8Array(16));
    expect(decodeResponse(m).receiverIndex).toBe(decodeInitiation(bytes).senderIndex);
    // The same initiation again is a replay.
    expect(device.handleHandshakeMessage(bytes, source, 1000)[0]).toMatchObject({ reason: "replayed-timestamp" });
  });
});
