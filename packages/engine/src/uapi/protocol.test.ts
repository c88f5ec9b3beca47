import { describe, expect, it } from "vitest";
import { encodeKeyHex, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { SetParser, UapiError, formatGet, formatGetChunks, parseGet, parseSet } from "./protocol.js";
import { MemoryDevice } from "./memory-device.test-helper.js";

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

describe("UAPI set=1 in parts", () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return Math.floor((seed / 2 ** 32) * n);
  };
  const keys = Array.from({ length: 6 }, () => encodeKeyHex(publicKeyFrom(generatePrivateKey())));

  /** A request body as wg writes one: device keys, then peers with their keys in wg's order. */
  function randomRequest(): string[] {
    const lines: string[] = [];
    if (rnd(3) === 0) lines.push(`listen_port=${rnd(65536)}`);
    if (rnd(4) === 0) lines.push("replace_peers=true");
    for (let p = rnd(5); p > 0; p--) {
      lines.push(`public_key=${keys[rnd(keys.length)]}`);
      if (rnd(8) === 0) {
        lines.push("remove=true");
        continue;
      }
      if (rnd(6) === 0) lines.push("update_only=true");
      if (rnd(3) === 0) lines.push(`endpoint=198.18.0.${rnd(255)}:${1 + rnd(65535)}`);
      if (rnd(3) === 0) lines.push(`persistent_keepalive_interval=${rnd(100)}`);
      if (rnd(3) === 0) lines.push("replace_allowed_ips=true");
      for (let a = rnd(4) === 0 ? rnd(60) : rnd(4); a > 0; a--) lines.push(`allowed_ip=100.${64 + rnd(4)}.${rnd(4)}.${rnd(8)}/${30 + rnd(3)}`);
    }
    return lines;
  }

  it("applied part by part, in order, a request changes a device as the whole request does", () => {
    for (let round = 0; round < 1000; round++) {
      const whole = new MemoryDevice();
      const parted = new MemoryDevice();
      const start = randomRequest();
      whole.applyNow(parseSet(start));
      parted.applyNow(parseSet(start));
      const lines = randomRequest();
      whole.applyNow(parseSet(lines));
      const parser = new SetParser();
      let parts = 0;
      for (const line of lines) {
        parser.line(line);
        if (rnd(5) === 0) {
          const part = parser.take(true);
          if (part) {
            expect(part.more).toBe(true);
            parted.applyNow(part);
            parts++;
          }
        }
      }
      const last = parser.take();
      expect(last?.more).toBeUndefined();
      if (last) parted.applyNow(last);
      expect(parted.snapshot(), `request ${JSON.stringify(lines)} in ${parts + 1} parts`).toEqual(whole.snapshot());
    }
  });

  it("reads 130,000 allowed IPs in linear time", () => {
    const lines = [`public_key=${pk}`, ...Array.from({ length: 130_000 }, (_, i) => `allowed_ip=10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`)];
    const started = performance.now();
    const req = parseSet(lines);
    expect(req.peers[0].allowedIps).toHaveLength(130_000);
    expect(performance.now() - started).toBeLessThan(5_000); // about 0.3 s; copying the list per line took minutes
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

  it("writes a long answer in pieces of about the size asked for, which make the whole answer", () => {
    const snap = {
      privateKey: null,
      listenPort: 1,
      fwmark: 0,
      peers: Array.from({ length: 3 }, (_, p) => ({
        publicKey: publicKeyFrom(generatePrivateKey()), presharedKey: null, endpoint: null,
        allowedIps: Array.from({ length: 5000 * p }, (_, i) => `10.${p}.${i >> 8}.${i & 255}/32`),
        lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0,
      })),
    };
    const chunks = [...formatGetChunks(snap, 16 << 10)];
    expect(chunks.length).toBeGreaterThan(20);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual((16 << 10) + 200);
    expect(chunks.join("")).toBe(formatGet(snap));
    expect(parseGet(`${formatGet(snap)}errno=0`.split("\n")).peers.map((p) => p.allowedIps.length)).toEqual([0, 5000, 10000]);
  });

  it("turns a non-zero errno (negated on the wire) into a UapiError", () => {
    expect(() => parseGet(["errno=-22"])).toThrow(expect.objectContaining({ errno: 22 }));
    expect(() => parseGet(["listen_port=1"])).toThrow(/no errno/);
  });
});
