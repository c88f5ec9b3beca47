/**
 * Cryptokey routing and NAT, as WireGuard defines them (issue 10):
 * - a more specific allowed IP on another peer takes the traffic for it, both ways: packets
 *   to it are sealed for that peer, and the wider peer may not send from it;
 * - a spoke behind a NAT (SNAT in a middle namespace, with short UDP timeouts) stays
 *   reachable by the hub through persistent keepalives.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, waitFor } from "./netns.js";
import { TALTUN_CLI, TALTUN_WG, startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

describe("cryptokey routing: the longest prefix wins", () => {
  const lab = new Lab("cr");
  const [me, wide, narrow] = [wgKeyPair(), wgKeyPair(), wgKeyPair()];
  let hub = "", a = "", b = "", ifname = "";

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    a = lab.netns("wide");
    b = lab.netns("narrow");
    lab.link(hub, "198.18.130.1/24", a, "198.18.130.2/24", ["va", "veth0"]);
    lab.link(hub, "198.18.131.1/24", b, "198.18.131.2/24", ["vb", "veth0"]);
    ifname = `c${lab.tag}`.slice(0, 15);
    lab.spawn(hub, [TALTUN_WG, "-f", ifname], { LOG_LEVEL: "error" });
    lab.afterExit(() => lab.exec(hub, ["rm", "-f", `/var/run/wireguard/${ifname}.sock`]));
    await waitFor("taltun-wg's socket", 10_000, () => (existsSync(`/var/run/wireguard/${ifname}.sock`) ? true : undefined));
    const conf = join(lab.dir, "hub.conf");
    writeFileSync(conf, [
      "[Interface]", `PrivateKey = ${me.privateKey}`, "ListenPort = 51820", "",
      "[Peer]", `PublicKey = ${wide.publicKey}`, "AllowedIPs = 100.64.130.2/32, 100.65.0.0/16", "Endpoint = 198.18.130.2:51820", "",
      "[Peer]", `PublicKey = ${narrow.publicKey}`, "AllowedIPs = 100.64.130.3/32, 100.65.5.0/24", "Endpoint = 198.18.131.2:51820", "",
    ].join("\n"), { mode: 0o600 });
    lab.exec(hub, ["wg", "setconf", ifname, conf]);
    lab.exec(hub, ["ip", "addr", "add", "100.64.130.1/24", "dev", ifname]);
    lab.exec(hub, ["ip", "link", "set", ifname, "up"]);
    lab.exec(hub, ["ip", "route", "add", "100.65.0.0/16", "dev", ifname]);
    for (const [ns, k, vip, net, extra] of [[a, wide, "100.64.130.2", 130, "100.65.6.1/32"], [b, narrow, "100.64.130.3", 131, "100.65.5.1/32"]] as const) {
      const ifn = `p${net}${lab.tag}`.slice(0, 15);
      await startWireguardGo(lab, ns, {
        ifname: ifn, privateKey: k.privateKey, listenPort: 51820, address: `${vip}/24`,
        peers: [{ publicKey: me.publicKey, allowedIps: ["100.64.130.0/24"], endpoint: `198.18.${net}.1:51820` }],
      });
      // Each peer answers for one address of the hub's 100.65.0.0/16 routes.
      lab.exec(ns, ["ip", "addr", "add", extra, "dev", ifn]);
    }
  });
  afterAll(() => lab.close());

  it("sends to the peer with the longest matching prefix, and drops what the wider peer sends from the narrower one's", async () => {
    expect(await pingOk(lab, hub, "100.65.5.1")).toMatch(/3 received/); // the /24 of `narrow`
    expect(await pingOk(lab, hub, "100.65.6.1")).toMatch(/3 received/); // the /16 of `wide`
    // `wide` pretends to be 100.65.5.9, inside `narrow`'s /24: the hub drops it.
    const wideIf = `p130${lab.tag}`.slice(0, 15);
    lab.exec(a, ["ip", "addr", "add", "100.65.5.9/32", "dev", wideIf]);
    lab.exec(a, ["ip", "route", "add", "100.64.130.1/32", "dev", wideIf, "src", "100.65.5.9"]);
    const before = JSON.parse(lab.exec(hub, ["node", TALTUN_CLI, "show", ifname, "--json"])).dataplane.droppedSource;
    expect(lab.exec(a, ["sh", "-c", "ping -c 3 -i 0.2 -W 1 100.64.130.1 || true"])).toMatch(/3 packets transmitted, 0 received/);
    const after = JSON.parse(lab.exec(hub, ["node", TALTUN_CLI, "show", ifname, "--json"])).dataplane.droppedSource;
    expect(after - before).toBe(3);
  });
});

describe("a spoke behind a NAT", () => {
  const lab = new Lab("nt");
  const [hk, sk] = [wgKeyPair(), wgKeyPair()];
  let hub = "", nat = "", spoke = "";

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    nat = lab.netns("nat");
    spoke = lab.netns("spoke");
    lab.link(hub, "198.18.140.1/24", nat, "198.18.140.254/24", ["vh", "wan"]);
    lab.link(nat, "198.18.141.254/24", spoke, "198.18.141.2/24", ["lan", "veth0"]);
    lab.exec(spoke, ["ip", "route", "add", "default", "via", "198.18.141.254"]);
    lab.exec(nat, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec(nat, ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "SNAT", "--to-source", "198.18.140.254"]);
    // Short UDP mappings, so that only keepalives keep the way in open.
    lab.exec(nat, ["sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=3", "net.netfilter.nf_conntrack_udp_timeout_stream=3"]);
    await startTaltun(lab, hub, {
      mode: "server", tunName: `h${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:51820", vip: "100.64.140.1/24", privateKey: hk.privateKey,
      peers: [{ vip: "100.64.140.2", publicKey: sk.publicKey }],
    });
    await startTaltun(lab, spoke, {
      mode: "client", tunName: `s${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:0", vip: "100.64.140.2/24", privateKey: sk.privateKey,
      peers: [{ vip: "100.64.140.1", publicKey: hk.publicKey, endpoint: "198.18.140.1:51820", allowedIps: ["100.64.140.0/24"], persistentKeepalive: 1 }],
    });
  });
  afterAll(() => lab.close());

  it("stays reachable from the hub, through the NAT's mapping, after idling past the NAT's timeout", async () => {
    expect(await pingOk(lab, spoke, "100.64.140.1")).toMatch(/3 received/);
    const endpoint = lab.exec(hub, ["wg", "show", `h${lab.tag}`.slice(0, 15), "endpoints"]);
    expect(endpoint).toContain("198.18.140.254:"); // the hub sees the NAT's address
    await new Promise((r) => setTimeout(r, 6000)); // twice the mapping's timeout, no traffic of ours
    expect(lab.exec(hub, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "100.64.140.2"])).toMatch(/3 received/);
  });
});
