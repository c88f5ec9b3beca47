/**
 * `taltun up` with a default route in a peer's allowed IPs (issue 10): a full tunnel, as
 * wg-quick makes one (the sockets' fwmark, policy routing and an nftables guard of the
 * tunnel's own address), so that everything but the tunnel's own datagrams goes through it;
 * stopping the interface takes the rules and the guard away.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { wgKeyPair } from "./wireguard-go.js";

describe("a full tunnel from taltun up", () => {
  const lab = new Lab("ft");
  const [hk, sk] = [wgKeyPair(), wgKeyPair()];
  let hub = "", spoke = "", spokeIf = "";
  let spokeProc: LabProcess;

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    lab.link(hub, "198.18.170.1/24", spoke, "198.18.170.2/24");
    // Reachable only through the tunnel: an address on the hub's loopback.
    lab.exec(hub, ["ip", "addr", "add", "198.18.171.1/32", "dev", "lo"]);
    await startTaltun(lab, hub, {
      mode: "server", tunName: `h${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:51820", vip: "100.64.170.1/24", privateKey: hk.privateKey,
      peers: [{ vip: "100.64.170.2", publicKey: sk.publicKey }],
    });
    spokeIf = `s${lab.tag}`.slice(0, 15);
    spokeProc = await startTaltun(lab, spoke, {
      mode: "client", tunName: spokeIf, localAddr: "0.0.0.0:0", vip: "100.64.170.2/24", privateKey: sk.privateKey,
      peers: [{ vip: "100.64.170.1", publicKey: hk.publicKey, endpoint: "198.18.170.1:51820", allowedIps: ["0.0.0.0/0"] }],
    });
  });
  afterAll(() => lab.close());

  it("sends everything through the tunnel but its own datagrams, and takes the rules away on exit", async () => {
    expect(lab.exec(spoke, ["wg", "show", spokeIf, "fwmark"]).trim()).toBe("0xca6c");
    expect(lab.exec(spoke, ["ip", "route", "get", "198.18.171.1"])).toContain(`dev ${spokeIf}`);
    expect(lab.exec(spoke, ["ip", "route", "get", "198.18.170.1", "mark", "51820"])).toContain("dev veth0");
    expect(await pingOk(lab, spoke, "198.18.171.1")).toMatch(/3 received/);

    // A neighbour on the local network aims at the tunnel's own address: dropped before
    // routing (without the guard the spoke answers, through the tunnel).
    expect(lab.exec(spoke, ["nft", "list", "tables"])).toContain(`ip taltun-${spokeIf}`);
    lab.exec(hub, ["ip", "route", "add", "100.64.170.2/32", "via", "198.18.170.2", "dev", "veth0"]);
    const probe = spawnSync("ip", ["netns", "exec", hub, "ping", "-c", "3", "-i", "0.2", "-W", "1", "100.64.170.2"], { encoding: "utf8", timeout: 10_000 });
    lab.exec(hub, ["ip", "route", "del", "100.64.170.2/32", "via", "198.18.170.2", "dev", "veth0"]);
    expect(probe.stdout).toMatch(/3 packets transmitted, 0 received/);
    expect(await pingOk(lab, spoke, "198.18.171.1")).toMatch(/3 received/);

    spokeProc.child.kill("SIGTERM");
    expect(await spokeProc.exited).toBe(0);
    expect(lab.exec(spoke, ["ip", "rule", "show"])).not.toMatch(/51820|suppress_prefixlength/);
    expect(lab.exec(spoke, ["ip", "route", "show", "table", "all"])).not.toContain(spokeIf);
    expect(lab.exec(spoke, ["nft", "list", "tables"])).not.toContain("taltun-");
  });
});
