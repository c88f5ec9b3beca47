import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKey, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { parseIpNet } from "../protocol/address.js";
import { UapiError, type UapiServer, uapiGet, uapiListen, uapiSocketPath } from "./uapi.js";
import { MemoryDevice } from "./memory-device.test-helper.js";

// wg finds userspace interfaces only in /var/run/wireguard, which needs root.
if (process.getuid?.() !== 0) throw new Error("the UAPI tests need root (they serve /var/run/wireguard/<iface>.sock for wg): run them as root");

const iface = `tt-u${process.pid}`;
// Asynchronous on purpose: the server answering wg lives in this very process.
const run = promisify(execFile);
const wg = async (...args: string[]) => (await run("wg", args, { encoding: "utf8", timeout: 10_000 })).stdout;
const priv = generatePrivateKey();
const peerA = publicKeyFrom(generatePrivateKey());
const peerB = publicKeyFrom(generatePrivateKey());
const psk = generatePrivateKey();
const tmp = mkdtempSync(join(tmpdir(), "taltun-uapi-"));

let device: MemoryDevice;
let server: UapiServer;

beforeAll(async () => {
  device = new MemoryDevice();
  device.privateKey = priv;
  device.listenPort = 51820;
  device.applyNow({
    replacePeers: false,
    peers: [
      { publicKey: peerA, remove: false, updateOnly: false, presharedKey: psk, endpoint: "198.18.0.2:51820", persistentKeepalive: 25, replaceAllowedIps: false, allowedIps: [parseIpNet("100.64.0.2/32", "reject"), parseIpNet("fd00::2/128", "reject")] },
    ],
  });
  const a = device.peers.values().next().value!;
  a.lastHandshakeMs = Date.now() - 23_000;
  a.rxBytes = 1234;
  a.txBytes = 5678;
  server = await uapiListen(iface, device);
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("UAPI socket", () => {
  it("serves `wg show <iface> dump`", async () => {
    const [ifLine, peerLine, ...rest] = (await wg("show", iface, "dump")).trim().split("\n");
    expect(rest).toEqual([]);
    expect(ifLine.split("\t")).toEqual([encodeKey(priv), encodeKey(publicKeyFrom(priv)), "51820", "off"]);
    const f = peerLine.split("\t");
    expect(f.slice(0, 4)).toEqual([encodeKey(peerA), encodeKey(psk), "198.18.0.2:51820", "100.64.0.2/32,fd00::2/128"]);
    expect(Math.abs(Number(f[4]) - (Date.now() - 23_000) / 1000)).toBeLessThan(3);
    expect(f.slice(5)).toEqual(["1234", "5678", "25"]);
  });

  it("serves `wg show <iface>` for people", async () => {
    const out = await wg("show", iface);
    expect(out).toContain(`interface: ${iface}`);
    expect(out).toContain(`peer: ${encodeKey(peerA)}`);
    expect(out).toMatch(/latest handshake: 2\d seconds ago/);
    expect(out).toContain("allowed ips: 100.64.0.2/32, fd00::2/128");
  });

  it("serves `wg showconf`", async () => {
    const conf = await wg("showconf", iface);
    expect(conf).toContain(`PrivateKey = ${encodeKey(priv)}`);
    expect(conf).toContain("ListenPort = 51820");
    expect(conf).toContain(`PublicKey = ${encodeKey(peerA)}`);
    expect(conf).toContain(`PresharedKey = ${encodeKey(psk)}`);
    expect(conf).toContain("Endpoint = 198.18.0.2:51820");
    expect(conf).toContain("PersistentKeepalive = 25");
  });

  it("applies `wg set` to the device", async () => {
    await wg("set", iface, "listen-port", "51999", "peer", encodeKey(peerB), "allowed-ips", "10.9.0.1/24,fd00::9/64", "endpoint", "[fd00::9]:4000", "persistent-keepalive", "15");
    expect(device.listenPort).toBe(51999);
    const b = device.snapshot().peers.find((p) => encodeKey(p.publicKey) === encodeKey(peerB))!;
    expect(b).toMatchObject({ allowedIps: ["10.9.0.0/24", "fd00::/64"], endpoint: "[fd00::9]:4000", persistentKeepalive: 15, presharedKey: null });

    await wg("set", iface, "peer", encodeKey(peerA), "allowed-ips", "100.64.0.7/32");
    expect((await uapiGet(iface)).peers.find((p) => encodeKey(p.publicKey) === encodeKey(peerA))!.allowedIps).toEqual(["100.64.0.7/32"]);

    const keyFile = join(tmp, "k");
    const newPriv = generatePrivateKey();
    writeFileSync(keyFile, encodeKey(newPriv), { mode: 0o600 });
    await wg("set", iface, "private-key", keyFile, "peer", encodeKey(peerB), "remove");
    const snap = await uapiGet(iface);
    expect(snap.privateKey).toEqual(newPriv);
    expect(snap.peers.map((p) => encodeKey(p.publicKey))).toEqual([encodeKey(peerA)]);
  });

  it("reports a device's refusal to `wg set` as an errno", async () => {
    device.failWith = new UapiError(98, "port in use");
    const err = await wg("set", iface, "listen-port", "1").catch((e: { code: number; stderr: string }) => e);
    device.failWith = null;
    expect(err).toMatchObject({ code: 1, stderr: expect.stringMatching(/Address already in use/) });
    expect(device.listenPort).not.toBe(1);
  });

  it("answers uapiGet like wg show", async () => {
    const snap = await uapiGet(iface);
    expect(snap.listenPort).toBe(device.listenPort);
    expect(snap.peers[0]).toMatchObject({ rxBytes: 1234, txBytes: 5678, persistentKeepalive: 25, endpoint: "198.18.0.2:51820" });
    await expect(uapiGet(`tt-none${process.pid}`)).rejects.toThrow(UapiError);
  });

  it("refuses a socket a live process owns, and replaces a stale one", async () => {
    await expect(uapiListen(iface, new MemoryDevice())).rejects.toMatchObject({ errno: 98 });
    const staleIface = `tt-s${process.pid}`;
    const path = uapiSocketPath(staleIface);
    // A socket file nobody listens on: what a crashed process leaves behind.
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const s = await uapiListen(staleIface, new MemoryDevice());
    expect(lstatSync(path).mode & 0o077).toBe(0);
    await s.close();
    expect(existsSync(path)).toBe(false);
  });

  // Last: it replaces the peers the tests above rely on.
  it("applies `wg setconf`, which replaces every peer", async () => {
    const conf = join(tmp, "set.conf");
    const only = publicKeyFrom(generatePrivateKey());
    writeFileSync(conf, `[Interface]\nPrivateKey = ${encodeKey(priv)}\nListenPort = 51821\n\n[Peer]\nPublicKey = ${encodeKey(only)}\nAllowedIPs = 100.64.0.9/32\nEndpoint = 198.18.0.9:51820\n`, { mode: 0o600 });
    await wg("setconf", iface, conf);
    const snap = await uapiGet(iface);
    expect(snap.listenPort).toBe(51821);
    expect(snap.peers.map((p) => [encodeKey(p.publicKey), p.allowedIps, p.endpoint])).toEqual([[encodeKey(only), ["100.64.0.9/32"], "198.18.0.9:51820"]]);
  });
});
