import { describe, expect, it } from "vitest";
import { generatePrivateKey, publicKeyOf } from "./dh.js";
import { HandshakeError } from "./errors.js";
import { consumeInitiation, consumeResponse, createInitiation, createResponse, precomputeStaticStatic, type PeerSecrets, type StaticIdentity } from "./noise.js";
import { tai64n, tai64nAfter } from "./tai64n.js";

function identity(): StaticIdentity {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

function secrets(local: StaticIdentity, remote: StaticIdentity, psk = new Uint8Array(32)): PeerSecrets {
  return { remoteStatic: remote.publicKey, presharedKey: psk, staticStatic: precomputeStaticStatic(local, remote.publicKey) };
}

describe("Noise_IKpsk2 handshake", () => {
  for (const withPsk of [false, true]) {
    it(`derives matching transport keys${withPsk ? " with a preshared key" : ""}`, () => {
      const i = identity();
      const r = identity();
      const psk = withPsk ? crypto.getRandomValues(new Uint8Array(32)) : new Uint8Array(32);
      const { message, state } = createInitiation(i, secrets(i, r, psk), 0x11223344, Date.now());
      expect(message.length).toBe(148);
      const consumed = consumeInitiation(r, message, (pub) => (Buffer.compare(pub, i.publicKey) === 0 ? secrets(r, i, psk) : undefined));
      expect(consumed.remoteStatic).toEqual(i.publicKey);
      expect(consumed.state.remoteIndex).toBe(0x11223344);
      const response = createResponse(consumed.state, secrets(r, i, psk), 0x55667788);
      expect(response.message.length).toBe(92);
      const keys = consumeResponse(state, i, secrets(i, r, psk), response.message);
      expect(keys.send).toEqual(response.keys.receive);
      expect(keys.receive).toEqual(response.keys.send);
      expect(keys.send).not.toEqual(keys.receive);
      // Private material no longer needed is zeroed.
      expect(state.ephemeralPrivate.every((b) => b === 0)).toBe(true);
      expect(state.chainingKey.every((b) => b === 0)).toBe(true);
    });
  }

  it("a mismatched preshared key fails the response", () => {
    const i = identity();
    const r = identity();
    const { message, state } = createInitiation(i, secrets(i, r), 1, Date.now());
    const consumed = consumeInitiation(r, message, () => secrets(r, i, new Uint8Array(32).fill(7)));
    const response = createResponse(consumed.state, secrets(r, i, new Uint8Array(32).fill(7)), 2);
    expect(() => consumeResponse(state, i, secrets(i, r), response.message)).toThrow(HandshakeError);
  });

  it("an unknown initiator is refused", () => {
    const i = identity();
    const r = identity();
    const { message } = createInitiation(i, secrets(i, r), 1, Date.now());
    expect(() => consumeInitiation(r, message, () => undefined)).toThrow(/unknown static key/);
  });
});

describe("TAI64N", () => {
  it("orders timestamps and whitens sub-16ms detail", () => {
    const a = tai64n(1_700_000_000_000);
    const b = tai64n(1_700_000_000_100);
    expect(tai64nAfter(b, a)).toBe(true);
    expect(tai64nAfter(a, b)).toBe(false);
    expect(tai64nAfter(a, a)).toBe(false);
    expect(tai64n(1_700_000_000_001)).toEqual(tai64n(1_700_000_000_000));
    expect(Buffer.from(a.subarray(0, 8)).readBigUInt64BE()).toBe(2n ** 62n + 10n + 1_700_000_000n);
  });
});
