import { type DeviceSnapshot, type UapiDevice, type UapiServer, encodeKey, generatePrivateKey, publicKeyFrom, uapiListen } from "@taltun/engine";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taltun } from "./cli.test-helpers.js";
import { ago, bitRate, bytes, formatView, splitCounters } from "./show-format.js";

if (process.getuid?.() !== 0) throw new Error("the show tests need root (they serve /var/run/wireguard/<iface>.sock): run them as root");

const iface = `tt-w${process.pid}`;
const priv = generatePrivateKey();
const peer = publicKeyFrom(generatePrivateKey());
const start = Date.now();

/** A device whose peer receives 1 MB/s and sends 0.5 MB/s, with a handshake 23 s ago. */
const device: UapiDevice = {
  snapshot(): DeviceSnapshot {
    const s = (Date.now() - start) / 1000;
    return {
      privateKey: priv,
      listenPort: 51820,
      fwmark: 0,
      peers: [
        { publicKey: peer, presharedKey: generatePrivateKey(), endpoint: "198.18.1.2:40000", allowedIps: ["100.64.0.2/32"], lastHandshakeMs: start - 23_000, rxBytes: Math.round(5e6 + s * 1e6), txBytes: Math.round(s * 5e5), persistentKeepalive: 25 },
      ],
    };
  },
  apply() {
    throw new Error("read-only in this test");
  },
};

let server: UapiServer;
beforeAll(async () => {
  server = await uapiListen(iface, device);
});
afterAll(() => server?.close());

describe("taltun show", () => {
  it("prints peers, handshake age, transfer and rates as JSON", async () => {
    const r = await taltun(["show", iface, "--json"]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ interface: iface, publicKey: encodeKey(publicKeyFrom(priv)), listenPort: 51820 });
    expect(v.rateIntervalSeconds).toBeGreaterThan(0.9);
    expect(v.rateIntervalSeconds).toBeLessThan(3);
    const p = v.peers[0];
    expect(p).toMatchObject({ publicKey: encodeKey(peer), endpoint: "198.18.1.2:40000", allowedIps: ["100.64.0.2/32"], persistentKeepaliveSeconds: 25, hasPresharedKey: true });
    expect(Math.abs(Date.parse(p.latestHandshake) - (start - 23_000))).toBeLessThan(1000);
    // Rates in bits per second, whole numbers: 1 MB/s in is 8 Mbit/s.
    expect(Number.isInteger(p.rxBitsPerSecond) && Number.isInteger(p.txBitsPerSecond)).toBe(true);
    expect(p.rxBitsPerSecond).toBeGreaterThan(8e6 * 0.6);
    expect(p.rxBitsPerSecond).toBeLessThan(8e6 * 1.4);
    expect(p.txBitsPerSecond / p.rxBitsPerSecond).toBeCloseTo(0.5, 1);
    // Every figure names its unit (or is a count, a key, an address, a flag or an ISO time).
    expect(Object.keys(p).sort()).toEqual(
      ["allowedIps", "endpoint", "hasPresharedKey", "latestHandshake", "persistentKeepaliveSeconds", "publicKey", "rxBitsPerSecond", "rxBytes", "txBitsPerSecond", "txBytes"],
    );
    expect(Object.keys(v).sort()).toEqual(["interface", "listenPort", "peers", "publicKey", "rateIntervalSeconds"]);
    expect(r.stdout).not.toContain(encodeKey(priv));
    expect(r.stdout).not.toContain(Buffer.from(priv).toString("hex"));
  });

  it("prints the same for people, and lists every answering interface without a name", async () => {
    const r = await taltun(["show"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`interface: ${iface}\n  public key: ${encodeKey(publicKeyFrom(priv))}\n  listening port: 51820\n`);
    expect(r.stdout).toMatch(/latest handshake: 2\d seconds ago\n/);
    expect(r.stdout).toMatch(/transfer: [\d.]+ MiB received, [\d.]+ (KiB|MiB) sent\n/);
    expect(r.stdout).toMatch(/rate: [\d.]+ Mbit\/s received, [\d.]+ Mbit\/s sent \(over 1\.\d s\)\n/);
    expect(r.stdout).toContain("preshared key: (hidden)");
    expect(r.stdout).not.toContain(encodeKey(priv));
  });

  it("says clearly when the interface is not running", async () => {
    const r = await taltun(["show", `tt-x${process.pid}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`taltun: tt-x${process.pid} is not running (nothing answers on /var/run/wireguard/tt-x${process.pid}.sock)\n`);
  });

  it("reads a stock wireguard-go interface too", async () => {
    // wireguard-go in a namespace of our own, configured with wg; stopped by its pid.
    const ns = `tt-show-${process.pid}`;
    const wgIface = `ttwg${process.pid}`;
    execFileSync("ip", ["netns", "add", ns]);
    const wgo = spawn("ip", ["netns", "exec", ns, "wireguard-go", "-f", wgIface], { env: { ...process.env, WG_PROCESS_FOREGROUND: "1" }, stdio: "ignore" });
    try {
      const sock = `/var/run/wireguard/${wgIface}.sock`;
      for (let t = 0; !existsSync(sock); t++) {
        if (t > 100) throw new Error("wireguard-go did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
      const key = generatePrivateKey();
      const keyFile = join(mkdtempSync(join(tmpdir(), "taltun-show-")), "k");
      writeFileSync(keyFile, encodeKey(key), { mode: 0o600 });
      execFileSync("wg", ["set", wgIface, "private-key", keyFile, "listen-port", "51820", "peer", encodeKey(peer), "allowed-ips", "100.64.0.2/32,192.168.50.0/24", "endpoint", "198.18.1.2:51820"]);
      rmSync(keyFile, { force: true });
      const r = await taltun(["show", wgIface, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        interface: wgIface, publicKey: encodeKey(publicKeyFrom(key)), listenPort: 51820,
        peers: [{ publicKey: encodeKey(peer), endpoint: "198.18.1.2:51820", allowedIps: ["100.64.0.2/32", "192.168.50.0/24"], latestHandshake: null, rxBytes: 0 }],
      });
    } finally {
      wgo.kill("SIGTERM");
      await new Promise((r) => (wgo.exitCode !== null ? r(null) : wgo.once("exit", r)));
      execFileSync("ip", ["netns", "del", ns]);
    }
  });

  it("shows handshake verdicts of both planes apart from the data plane's counters", () => {
    const { dataplane, handshakes } = splitCounters({
      udpDatagrams: 9, "handshakes.cookieReplies": 120, "handshakes.underLoad": 1, "handshakes.rejected.bad_mac1": 7, "handshakes.rejected.flood": 0,
    });
    expect(dataplane).toEqual({ udpDatagrams: 9 });
    expect(handshakes).toEqual({ underLoad: true, cookieRepliesSent: 120, rejected: { bad_mac1: 7, flood: 0 } });
    const text = formatView({ interface: "tt0", publicKey: null, listenPort: 1, rateIntervalSeconds: 1, peers: [], handshakes });
    expect(text).toContain("handshakes: under load (cookies demanded), 120 cookie replies sent, rejected: 7 bad_mac1\n");
    expect(splitCounters({ udpDatagrams: 1 }).handshakes).toBeUndefined();
  });

  it("words times, sizes and rates", () => {
    expect(ago(0, 0)).toBe("Now");
    expect(ago(0, 23_000)).toBe("23 seconds ago");
    expect(ago(0, 3_723_000)).toBe("1 hour, 2 minutes, 3 seconds ago");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.50 KiB");
    expect(bitRate(950)).toBe("950 bit/s");
    expect(bitRate(12_345_678)).toBe("12.3 Mbit/s");
  });
});
