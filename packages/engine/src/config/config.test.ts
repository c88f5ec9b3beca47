import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, isLoopback, validateConfig } from "./config.js";
import { encodeKey, encodeKeyHex, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { ipNetsOverlap, parseIpNet } from "../protocol/address.js";

const hubKey = generatePrivateKey();
const spokeKey = () => encodeKey(publicKeyFrom(generatePrivateKey()));
const HUB_PRIV = encodeKey(hubKey);

/** A valid hub configuration; `edit` changes a copy of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a raw TOML tree, edited freely by each case
function hub(edit: (c: any) => void = () => {}): any {
  const c = {
    interface: { mode: "server", tun_name: "tt0", local_addr: "0.0.0.0:51820", vip: "100.64.0.1/24", private_key: HUB_PRIV },
    peers: [
      { vip: "100.64.0.2", public_key: spokeKey(), allowed_ips: ["192.168.50.0/24"] },
      { vip: "100.64.0.3", public_key: spokeKey(), persistent_keepalive: 25 },
    ],
  };
  edit(c);
  return c;
}

/** The ConfigError that validating `raw` throws. */
function errorOf(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const dir = mkdtempSync(join(tmpdir(), "taltun-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("validateConfig", () => {
  it("accepts a hub and fills in defaults", () => {
    const c = validateConfig(hub());
    expect(c.interface).toMatchObject({ mode: "server", tunName: "tt0", mtu: 1420, logLevel: "info", localAddr: { host: "0.0.0.0", port: 51820 } });
    expect(c.interface.publicKey).toEqual(publicKeyFrom(hubKey));
    expect(c.interface.workers).toBeGreaterThan(0);
    expect(c.peers[0].allowedIps.map((n) => `${n.address}/${n.prefix}`)).toEqual(["100.64.0.2/32", "192.168.50.0/24"]);
    expect(c.peers[1].persistentKeepalive).toBe(25);
  });

  it("reads metrics_addr: a port alone binds loopback, an address written out is taken as it is", () => {
    const at = (v: string) => validateConfig(hub((c) => (c.interface.metrics_addr = v))).interface.metricsAddr;
    expect(validateConfig(hub()).interface.metricsAddr).toBeNull();
    expect(at("9586")).toEqual({ host: "127.0.0.1", port: 9586 });
    expect(at(":9586")).toEqual({ host: "127.0.0.1", port: 9586 });
    expect(at("127.0.0.1:9586")).toEqual({ host: "127.0.0.1", port: 9586 });
    expect(at("[::1]:9586")).toEqual({ host: "::1", port: 9586 });
    expect(at("0.0.0.0:9586")).toEqual({ host: "0.0.0.0", port: 9586 });
    expect(at("198.18.0.1:9100")).toEqual({ host: "198.18.0.1", port: 9100 });
    expect(isLoopback("127.0.0.1") && isLoopback("127.1.2.3") && isLoopback("::1")).toBe(true);
    expect(isLoopback("0.0.0.0") || isLoopback("::") || isLoopback("198.18.0.1") || isLoopback("::2")).toBe(false);
  });

  it("reads a peer's optional name, up to 64 characters of any script", () => {
    const c = validateConfig(hub((x) => { x.peers[0].name = "branch office (Zürich) 東京"; x.peers[1].name = "é".repeat(64); }));
    expect(c.peers.map((p) => p.name)).toEqual(["branch office (Zürich) 東京", "é".repeat(64)]);
    expect(validateConfig(hub()).peers[0].name).toBeNull();
  });

  it("accepts a client with hex keys and a host-name endpoint", () => {
    const c = validateConfig({
      interface: { mode: "client", tun_name: "tt1", vip: "fd00::2/64", private_key: encodeKeyHex(generatePrivateKey()), mtu: 1280 },
      peers: [{ vip: "fd00::1", public_key: encodeKeyHex(publicKeyFrom(hubKey)), endpoint: "hub.example:51820", allowed_ips: ["fd00::/64"] }],
    });
    expect(c.interface.localAddr).toEqual({ host: "0.0.0.0", port: 0 });
    // The vip lies inside the listed fd00::/64: allowed, and both are kept.
    expect(c.peers[0].allowedIps).toHaveLength(2);
  });

  it("reads private_key_file relative to baseDir, and refuses one others can read", () => {
    const f = join(dir, "hub.key");
    writeFileSync(f, HUB_PRIV + "\n", { mode: 0o600 });
    const raw = hub((c) => {
      delete c.interface.private_key;
      c.interface.private_key_file = "hub.key";
    });
    expect(validateConfig(raw, { baseDir: dir }).interface.privateKey).toEqual(hubKey);
    chmodSync(f, 0o640);
    const e = errorOf({ ...raw, interface: { ...raw.interface, private_key_file: f } });
    expect(e.key).toBe("interface.private_key_file");
    expect(e.message).toContain(`chmod 600 ${f}`);
  });

  // One case per rule: the key named in the error, and a word of the reason.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw TOML trees
  const rules: Array<[string, (c: any) => void, string, RegExp]> = [
    ["unknown key", (c) => (c.interface.tun_nmae = "x"), "interface.tun_nmae", /did you mean tun_name/],
    ["unknown section", (c) => (c.peer = []), "peer", /did you mean peers/],
    ["mode", (c) => (c.interface.mode = "hub"), "interface.mode", /"server" or "client"/],
    ["tun_name length", (c) => (c.interface.tun_name = "a".repeat(16)), "interface.tun_name", /1-15/],
    ["tun_name chars", (c) => (c.interface.tun_name = "tt/0"), "interface.tun_name", /letters/],
    ["vip", (c) => (c.interface.vip = "100.64.0.300/24"), "interface.vip", /not an IP/],
    ["missing key", (c) => delete c.interface.private_key, "interface.private_key", /required/],
    ["bad private key", (c) => (c.interface.private_key = "abc"), "interface.private_key", /not a key/],
    ["both keys", (c) => (c.interface.private_key_file = "/x"), "interface.private_key_file", /only one/],
    ["mtu range", (c) => (c.interface.mtu = 70000), "interface.mtu", /576-65455/],
    ["mtu ipv6", (c) => { c.interface.mtu = 1000; c.peers[1].allowed_ips = ["fd00::/64"]; }, "interface.mtu", /1280/],
    ["mtu type", (c) => (c.interface.mtu = "big"), "interface.mtu", /integer/],
    ["listen_port range", (c) => (c.interface.listen_port = 70000), "interface.listen_port", /1-65535/],
    ["port conflict", (c) => (c.interface.listen_port = 1000), "interface.listen_port", /conflicts/],
    ["server port", (c) => (c.interface.local_addr = "0.0.0.0"), "interface.local_addr", /fixed port/],
    ["local_addr", (c) => (c.interface.local_addr = "hub:1"), "interface.local_addr", /numeric address/],
    ["workers", (c) => (c.interface.workers = 0), "interface.workers", /1-256/],
    ["log_level", (c) => (c.interface.log_level = "loud"), "interface.log_level", /one of/],
    ["routes host bits", (c) => (c.interface.routes = ["10.1.2.3/16"]), "interface.routes[0]", /did you mean 10\.1\.0\.0\/16/],
    ["allowed_ips host bits", (c) => (c.peers[0].allowed_ips = ["192.168.50.1/24"]), "peers[0].allowed_ips[0]", /host bits/],
    ["allowed_ips type", (c) => (c.peers[0].allowed_ips = "10.0.0.0/8"), "peers[0].allowed_ips", /list/],
    ["peer vip prefix", (c) => (c.peers[1].vip = "100.64.0.3/24"), "peers[1].vip", /one address/],
    ["public_key", (c) => (c.peers[1].public_key = "nope"), "peers[1].public_key", /not a key/],
    ["duplicate key", (c) => (c.peers[1].public_key = c.peers[0].public_key), "peers[1].public_key", /duplicates peers\[0\]/],
    ["own key", (c) => (c.peers[0].public_key = encodeKey(publicKeyFrom(hubKey))), "peers[0].public_key", /own public key/],
    ["overlap", (c) => (c.peers[1].allowed_ips = ["192.168.0.0/16"]), "peers[1].allowed_ips[0]", /overlaps peers\[0\]\.allowed_ips\[0\]/],
    ["vip overlap", (c) => (c.peers[1].vip = "100.64.0.2"), "peers[1].vip", /overlaps peers\[0\]\.vip/],
    ["endpoint", (c) => (c.peers[0].endpoint = "198.18.0.1"), "peers[0].endpoint", /host:port/],
    ["client endpoint", (c) => { c.interface.mode = "client"; }, "peers[0].endpoint", /required in client mode/],
    ["keepalive", (c) => (c.peers[0].persistent_keepalive = -1), "peers[0].persistent_keepalive", /0-65535/],
    ["peer unknown key", (c) => (c.peers[0].allowed_ip = []), "peers[0].allowed_ip", /did you mean allowed_ips/],
    ["metrics_addr host name", (c) => (c.interface.metrics_addr = "localhost:9586"), "interface.metrics_addr", /numeric address/],
    ["metrics_addr port", (c) => (c.interface.metrics_addr = "127.0.0.1:0"), "interface.metrics_addr", /1-65535/],
    ["metrics_addr port alone", (c) => (c.interface.metrics_addr = "99999"), "interface.metrics_addr", /1-65535/],
    ["metrics_addr no port", (c) => (c.interface.metrics_addr = "127.0.0.1"), "interface.metrics_addr", /host:port/],
    ["metrics_addr type", (c) => (c.interface.metrics_addr = 9586), "interface.metrics_addr", /string/],
    ["metrics_addr typo", (c) => (c.interface.metric_addr = "9586"), "interface.metric_addr", /did you mean metrics_addr/],
    ["peer name empty", (c) => (c.peers[0].name = ""), "peers[0].name", /1-64/],
    ["peer name length", (c) => (c.peers[0].name = "n".repeat(65)), "peers[0].name", /1-64/],
    ["peer name type", (c) => (c.peers[0].name = 7), "peers[0].name", /string/],
    ["peer name newline", (c) => (c.peers[0].name = "a\nb"), "peers[0].name", /control/],
    ["peer name escape", (c) => (c.peers[0].name = "red\u001b[31m"), "peers[0].name", /control/],
    ["peer name bidi", (c) => (c.peers[0].name = "abc\u202edcba"), "peers[0].name", /format/],
  ];
  for (const [name, edit, key, reason] of rules) {
    it(`rejects: ${name}`, () => {
      const e = errorOf(hub(edit));
      expect(e.key).toBe(key);
      expect(e.reason).toMatch(reason);
      expect(e.message).toBe(`${e.key}: ${e.reason} (got ${e.value})`);
    });
  }

  it("finds overlapping allowed IPs exactly when a pairwise check does (randomized)", () => {
    // Small random prefixes in a narrow space, so that overlaps are common.
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const prefix = () => {
      const len = 20 + rnd(13);
      const addr = (10 << 24) | (rnd(4) << 10) | (rnd(1024) & ~((1 << (32 - Math.min(len, 32))) - 1) & 0x3ff);
      return parseIpNet(`${[addr >>> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255].join(".")}/${len}`, "mask");
    };
    let overlapping = 0;
    for (let round = 0; round < 300; round++) {
      const peers = Array.from({ length: 2 + rnd(3) }, (_, i) => ({
        vip: `100.64.${round % 250}.${i + 1}`,
        public_key: spokeKey(),
        allowed_ips: Array.from({ length: rnd(3) }, () => prefix()).map((n) => `${n.address}/${n.prefix}`),
      }));
      const nets = peers.map((p) => [...new Set(p.allowed_ips)].map((a) => parseIpNet(a, "reject")));
      const expected = nets.some((a, i) => nets.some((b, j) => j > i && a.some((x) => b.some((y) => ipNetsOverlap(x, y)))));
      let got = false;
      try {
        validateConfig({ interface: hub().interface, peers });
      } catch (e) {
        if (!(e instanceof ConfigError) || !/overlaps/.test(e.reason)) throw e;
        got = true;
      }
      expect(got, JSON.stringify(peers.map((p) => p.allowed_ips))).toBe(expected);
      overlapping += got ? 1 : 0;
    }
    expect(overlapping).toBeGreaterThan(30); // both outcomes are well exercised
    expect(overlapping).toBeLessThan(270);
  });

  it("never shows a private or preshared key in an error", () => {
    const psk = encodeKey(generatePrivateKey());
    for (const raw of [
      hub((c) => (c.interface.private_key = HUB_PRIV.slice(1))),
      hub((c) => (c.peers[0].preshared_key = psk.slice(2))),
      hub((c) => (c.interface.privat_key = HUB_PRIV)),
    ]) {
      const e = errorOf(raw);
      expect(e.value).toBe("<redacted>");
      expect(e.message).not.toContain(HUB_PRIV.slice(2, 30));
      expect(e.message).not.toContain(psk.slice(2, 30));
    }
  });
});
