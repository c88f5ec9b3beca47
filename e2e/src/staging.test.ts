import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { TALTUN_CLI, startTaltun } from "./taltun.js";
import { wgKeyPair } from "./wireguard-go.js";

// The first packets to a peer trigger the handshake; they wait for it instead of being lost.
describe("packets that wait for a handshake", () => {
  const lab = new Lab("sg");
  const ka = wgKeyPair();
  const kb = wgKeyPair();
  let a = "";
  let b = "";
  const tunA = `sa${lab.tag}`.slice(0, 15);

  beforeAll(async () => {
    requireLabPreconditions();
    a = lab.netns("a");
    b = lab.netns("b");
    lab.link(a, "198.18.95.1/24", b, "198.18.95.2/24");
    // Neither knows where the other is: no handshake happens until a packet needs one.
    for (const [ns, tun, me, peer, vip, peerVip] of [
      [a, tunA, ka, kb, "100.64.95.1", "100.64.95.2"],
      [b, `sb${lab.tag}`.slice(0, 15), kb, ka, "100.64.95.2", "100.64.95.1"],
    ] as const) {
      await startTaltun(lab, ns, {
        mode: "server",
        tunName: tun,
        localAddr: "0.0.0.0:51820",
        vip: `${vip}/24`,
        privateKey: me.privateKey,
        peers: [{ vip: peerVip, publicKey: peer.publicKey }],
      });
    }
  });
  afterAll(() => lab.close());

  it("answers the very first ping, sent before any session exists", () => {
    lab.exec(a, ["wg", "set", tunA, "peer", kb.publicKey, "endpoint", "198.18.95.2:51820"]);
    expect(lab.exec(a, ["wg", "show", tunA, "latest-handshakes"])).toMatch(/\t0$/m);
    expect(lab.exec(a, ["ping", "-c", "1", "-W", "5", "100.64.95.2"])).toMatch(/1 received/);
    const show = JSON.parse(lab.exec(a, ["node", TALTUN_CLI, "show", tunA, "--json"]));
    expect(show.dataplane.staged).toBeGreaterThanOrEqual(1);
    expect(show.dataplane.droppedNoSession).toBe(0);
  });
});
