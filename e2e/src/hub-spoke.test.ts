import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

// A Taltun hub relays, in user space, between a Taltun spoke and a wireguard-go spoke that
// routes a site subnet (a host in its own namespace). The hub's kernel forwards nothing.
describe("hub & spoke relay and site-to-site", () => {
  const lab = new Lab("hs");
  const hubKeys = wgKeyPair();
  const aKeys = wgKeyPair();
  const bKeys = wgKeyPair();
  let hub = "";
  let sa = "";
  let sb = "";
  let site = "";

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    sa = lab.netns("sa");
    sb = lab.netns("sb");
    site = lab.netns("site");
    lab.link(hub, "198.18.50.1/24", sa, "198.18.50.2/24", ["va", "veth0"]);
    lab.link(hub, "198.18.51.1/24", sb, "198.18.51.2/24", ["vb", "veth0"]);
    lab.link(sb, "100.96.0.1/24", site, "100.96.0.2/24", ["vsite", "veth0"]);
    lab.exec(hub, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    lab.exec(sb, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec(site, ["ip", "route", "add", "default", "via", "100.96.0.1"]);
    await startTaltun(lab, hub, {
      mode: "server",
      tunName: `th${lab.tag}`.slice(0, 15),
      localAddr: "0.0.0.0:51820",
      vip: "100.64.50.1/24",
      privateKey: hubKeys.privateKey,
      peers: [
        { vip: "100.64.50.2", publicKey: aKeys.publicKey },
        { vip: "100.64.50.3", publicKey: bKeys.publicKey, allowedIps: ["100.96.0.0/24"] },
      ],
    });
    await startTaltun(lab, sa, {
      mode: "client",
      tunName: `ta${lab.tag}`.slice(0, 15),
      localAddr: "0.0.0.0:0",
      vip: "100.64.50.2/24",
      privateKey: aKeys.privateKey,
      peers: [
        {
          vip: "100.64.50.1",
          publicKey: hubKeys.publicKey,
          endpoint: "198.18.50.1:51820",
          allowedIps: ["100.64.50.0/24", "100.96.0.0/24"],
          persistentKeepalive: 25,
        },
      ],
    });
    await startWireguardGo(lab, sb, {
      ifname: `wb${lab.tag}`.slice(0, 15),
      privateKey: bKeys.privateKey,
      address: "100.64.50.3/24",
      peers: [{ publicKey: hubKeys.publicKey, endpoint: "198.18.51.1:51820", allowedIps: ["100.64.50.0/24"], persistentKeepalive: 25 }],
    });
  });
  afterAll(() => lab.close());

  it("relays spoke to spoke through the hub with ip_forward off", async () => {
    expect(lab.exec(hub, ["sysctl", "-n", "net.ipv4.ip_forward"]).trim()).toBe("0");
    expect(await pingOk(lab, sa, "100.64.50.3")).toMatch(/3 received/);
    expect(await pingOk(lab, sb, "100.64.50.2")).toMatch(/3 received/);
  });

  it("reaches a host on the subnet a spoke announces, with TCP intact", async () => {
    expect(await pingOk(lab, sa, "100.96.0.2")).toMatch(/3 received/);
    const t = await verifiedTransfer(lab, site, sa, "100.96.0.2", 4 << 20);
    expect(t.received).toBe(t.sent);
  });
});
