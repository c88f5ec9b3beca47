/**
 * `taltun-wg` as a drop-in for wireguard-go (issue 10), against Debian's `wg`, `ip` and
 * `wireguard-go`: the namespace pattern (the process and its UDP socket in one namespace,
 * its TUN moved to another and configured there), IPv4 and IPv6 inside and outside, the
 * MTU set from outside at runtime, the listen port moved while running on either side, `wg syncconf`
 * that keeps sessions, and a clean exit when the TUN is deleted.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { TALTUN_WG } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

describe("taltun-wg, the namespace pattern, against wireguard-go", () => {
  const lab = new Lab("wd");
  const me = wgKeyPair();
  const peer = wgKeyPair();
  let outer = "", inner = "", remote = "";
  let ifname = "";
  let daemon: LabProcess;
  const wg = (...args: string[]) => lab.exec(inner, ["wg", ...args]);

  beforeAll(async () => {
    requireLabPreconditions();
    outer = lab.netns("outer");
    inner = lab.netns("inner");
    remote = lab.netns("remote");
    lab.link(outer, "198.18.110.1/24", remote, "198.18.110.2/24");
    lab.exec(outer, ["ip", "addr", "add", "2001:2:0:110::1/64", "dev", "veth0", "nodad"]);
    lab.exec(remote, ["ip", "addr", "add", "2001:2:0:110::2/64", "dev", "veth0", "nodad"]);
    ifname = `w${lab.tag}`.slice(0, 15);
    // Started in `outer`, in the foreground so the lab owns the process; its socket stays there.
    daemon = lab.spawn(outer, [TALTUN_WG, "-f", ifname], { LOG_LEVEL: "error" });
    lab.afterExit(() => lab.exec(outer, ["rm", "-f", `/var/run/wireguard/${ifname}.sock`]));
    await waitFor("taltun-wg's UAPI socket", 10_000, () => (existsSync(`/var/run/wireguard/${ifname}.sock`) ? true : undefined));
    const link = JSON.parse(lab.exec(outer, ["ip", "-j", "-d", "link", "show", ifname]))[0];
    expect({ mtu: link.mtu, up: link.flags.includes("UP"), addresses: JSON.parse(lab.exec(outer, ["ip", "-j", "addr", "show", ifname]))[0].addr_info }).toEqual({ mtu: 1420, up: false, addresses: [] });
    // The WireGuard namespace pattern: the TUN goes elsewhere and is configured there.
    lab.exec(outer, ["ip", "link", "set", ifname, "netns", inner]);
    const conf = join(lab.dir, "taltun-wg.conf");
    writeFileSync(conf, `[Interface]\nPrivateKey = ${me.privateKey}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 100.64.110.2/32, fd00:110::2/128\nEndpoint = [2001:2:0:110::2]:51820\n`, { mode: 0o600 });
    wg("setconf", ifname, conf);
    for (const a of ["100.64.110.1/24", "fd00:110::1/64"]) lab.exec(inner, ["ip", "addr", "add", a, "dev", ifname, "nodad"]);
    lab.exec(inner, ["ip", "link", "set", ifname, "up"]);
    await startWireguardGo(lab, remote, {
      ifname: `r${lab.tag}`.slice(0, 15), privateKey: peer.privateKey, listenPort: 51820, address: "100.64.110.2/24",
      peers: [{ publicKey: me.publicKey, allowedIps: ["100.64.110.1/32", "fd00:110::1/128"], endpoint: "[2001:2:0:110::1]:51820" }],
    });
    lab.exec(remote, ["ip", "addr", "add", "fd00:110::2/64", "dev", `r${lab.tag}`.slice(0, 15), "nodad"]);
  });
  afterAll(() => lab.close());

  it("carries ping and verified TCP both ways, inside IPv4 and IPv6, over an IPv6 underlay", async () => {
    expect(await pingOk(lab, inner, "100.64.110.2")).toMatch(/3 received/);
    expect(await pingOk(lab, remote, "fd00:110::1")).toMatch(/3 received/);
    for (const [server, client, addr] of [[inner, remote, "100.64.110.1"], [remote, inner, "100.64.110.2"], [inner, remote, "fd00:110::1"]] as const) {
      const t = await verifiedTransfer(lab, server, client, addr, 4 << 20);
      expect(t.received).toBe(t.sent);
    }
    expect(wg("show", ifname, "endpoints")).toContain("[2001:2:0:110::2]:51820");
  });

  it("follows an MTU set from outside at runtime: 9000 and 34000 carry full-size pings and TCP both ways", async () => {
    const rif = `r${lab.tag}`.slice(0, 15);
    for (const mtu of [9000, 34000]) {
      lab.exec(inner, ["ip", "link", "set", ifname, "mtu", String(mtu)]);
      lab.exec(remote, ["ip", "link", "set", rif, "mtu", String(mtu)]);
      await new Promise((r) => setTimeout(r, 1500)); // taltun-wg looks at its device every second
      for (const [from, to] of [[inner, "100.64.110.2"], [remote, "100.64.110.1"]] as const) {
        expect(lab.exec(from, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", String(mtu - 28), to]), `MTU ${mtu}`).toMatch(/2 received/);
      }
      const t = await verifiedTransfer(lab, remote, inner, "100.64.110.2", 4 << 20);
      expect(t.received).toBe(t.sent);
    }
    lab.exec(inner, ["ip", "link", "set", ifname, "mtu", "1420"]);
  });

  it("keeps every session through `wg syncconf` of the same configuration: no ping lost", async () => {
    const before = wg("show", ifname, "latest-handshakes");
    const pings = lab.spawn(remote, ["ping", "-c", "30", "-i", "0.1", "-W", "1", "100.64.110.1"]);
    await new Promise((r) => setTimeout(r, 500));
    const conf = join(lab.dir, "sync.conf");
    writeFileSync(conf, wg("showconf", ifname), { mode: 0o600 });
    for (let i = 0; i < 3; i++) wg("syncconf", ifname, conf);
    expect(await pings.exited).toBe(0);
    expect(pings.output()).toMatch(/30 packets transmitted, 30 received/);
    expect(wg("show", ifname, "latest-handshakes")).toBe(before);
  });

  it("moves to another listen port while running (0: any free one), and the peer follows it", async () => {
    wg("set", ifname, "listen-port", "0");
    const port = Number(wg("show", ifname, "listen-port").trim());
    expect(port).not.toBe(51820);
    expect(lab.exec(outer, ["ss", "-uHln", `sport = :${port}`])).toContain(`:${port}`);
    // Our next packet comes from the new port: the peer roams to it and answers there.
    expect(await pingOk(lab, inner, "100.64.110.2")).toMatch(/3 received/);
    expect(lab.exec(remote, ["wg", "show", `r${lab.tag}`.slice(0, 15), "endpoints"])).toContain(`:${port}`);
    wg("set", ifname, "listen-port", "51821");
    expect(wg("show", ifname, "listen-port").trim()).toBe("51821");
    expect(await pingOk(lab, inner, "fd00:110::2")).toMatch(/3 received/);
    // And the other side moves: its next packets come from a new port, and we follow them.
    lab.exec(remote, ["wg", "set", `r${lab.tag}`.slice(0, 15), "listen-port", "51900"]);
    expect(await pingOk(lab, remote, "100.64.110.1")).toMatch(/3 received/);
    expect(wg("show", ifname, "endpoints")).toContain(":51900");
  });

  it("exits cleanly, removing its socket, when its TUN is deleted", async () => {
    lab.exec(inner, ["ip", "link", "del", ifname]);
    expect(await Promise.race([daemon.exited, new Promise((r) => setTimeout(() => r("still running"), 5000))])).toBe(0);
    expect(existsSync(`/var/run/wireguard/${ifname}.sock`)).toBe(false);
  });
});
