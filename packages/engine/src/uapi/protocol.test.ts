import { describe, expect, it } from "vitest";
import { encodeKeyHex, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { UapiError, formatGet, parseGet, parseSet } from "./protocol.js";

const pk = encodeKeyHex(publicKeyFrom(generatePrivateKey()));
const errnoOf = (lines: string[]) => {
  try {
    parseSet(lines);
  } catch (e) {
    return (e as UapiError).errno;
  }
  return 0;
};

describe("UAPI set=1 parsing", () => {
  it("reads device keys, then peers in order, with host bits of allowed IPs cleared", () => {
    const req = parseSet([
      `private_key=${"0".repeat(64)}`, "listen_port=51820", "fwmark=0", "replace_peers=true",
      `public_key=${pk}`, "update_only=true", "endpoint=[fd00::1]:7", "persistent_keepalive_interval=25",
      "replace_allowed_ips=true", "allowed_ip=10.1.2.3/16", "allowed_ip=fd00::5/64", "protocol_version=1",
      `public_key=${encodeKeyHex(publicKeyFrom(generatePrivateKey()))}`, "remove=true",
    ]);
    expect(req).toMatchObject({ privateKey: null, listenPort: 51820, fwmark: 0, replacePeers: true });
    expect(req.peers).toHaveLength(2);
    expect(req.peers[0]).toMatchObject({ updateOnly: true, remove: false, endpoint: "[fd00::1]:7", persistentKeepalive: 25, replaceAllowedIps: true });
    expect(req.peers[0].allowedIps.map((n) => `${n.address}/${n.prefix}`)).toEqual(["10.1.0.0/16", "fd00::/64"]);
    expect(req.peers[0].presharedKey).toBeUndefined(); // absent means unchanged
    expect(req.peers[1].remove).toBe(true);
  });

  it("answers EPROTO for malformed lines and EINVAL for bad keys and values", () => {
    expect(errnoOf(["listen_port"])).toBe(71);
    expect(errnoOf(["=1"])).toBe(71);
    expect(errnoOf(["bogus=1"])).toBe(22);
    expect(errnoOf(["listen_port=65536"])).toBe(22);
    expect(errnoOf(["private_key=abc"])).toBe(22);
    expect(errnoOf(["replace_peers=false"])).toBe(22);
    expect(errnoOf([`public_key=${pk}`, "listen_port=1"])).toBe(22); // a device key inside a peer
    expect(errnoOf([`public_key=${pk}`, "endpoint=host.example:1"])).toBe(22); // wg sends addresses
    expect(errnoOf([`public_key=${pk}`, "allowed_ip=10.0.0.0/33"])).toBe(22);
    expect(errnoOf([`public_key=${pk}`, "protocol_version=2"])).toBe(22);
    expect(errnoOf([`public_key=${"0".repeat(64)}`])).toBe(22);
  });
});

describe("UAPI get=1", () => {
  it("round-trips a snapshot through formatGet and parseGet", () => {
    const snap = {
      privateKey: generatePrivateKey(),
      listenPort: 51820,
      fwmark: 7,
      peers: [
        { publicKey: publicKeyFrom(generatePrivateKey()), presharedKey: null, endpoint: "198.18.0.2:1", allowedIps: ["100.64.0.2/32"], lastHandshakeMs: 1_700_000_000_123, rxBytes: 10, txBytes: 20, persistentKeepalive: 0 },
        { publicKey: publicKeyFrom(generatePrivateKey()), presharedKey: generatePrivateKey(), endpoint: null, allowedIps: [], lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 25 },
      ],
    };
    const text = formatGet(snap) + "errno=0";
    expect(parseGet(text.split("\n"))).toEqual(snap);
  });

  it("turns a non-zero errno (negated on the wire) into a UapiError", () => {
    expect(() => parseGet(["errno=-22"])).toThrow(expect.objectContaining({ errno: 22 }));
    expect(() => parseGet(["listen_port=1"])).toThrow(/no errno/);
  });
});
