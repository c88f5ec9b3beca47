import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { startWireguardGo, wgKeyPair, wgLatestHandshakes } from "./wireguard-go.js";

async function iperf(lab: Lab, server: string, client: string, addr: string): Promise<number> {
  lab.spawn(server, ["iperf3", "-s", "-1", "-B", addr]);
  // The server needs a moment to listen: retry until a run completes. With -J, iperf3 may
  // report "unable to connect" inside its JSON rather than by failing.
  return waitFor(`iperf3 to ${addr}`, 10_000, () => {
    const r = JSON.parse(lab.exec(client, ["iperf3", "-c", addr, "-t", "2", "-J"]));
    if (r.error) throw new Error(r.error);
    return r.end?.sum_received?.bytes as number | undefined;
  });
}

// Stock wireguard-go on the other side, in both roles.
describe.each([
  { role: "taltun hub, wireguard-go spoke", taltunIsHub: true, net: 40 },
  { role: "wireguard-go server, taltun spoke", taltunIsHub: false, net: 41 },
])("interop: $role", ({ taltunIsHub, net }) => {
  const lab = new Lab(`io${net}`);
  const hubKeys = wgKeyPair();
  const spokeKeys = wgKeyPair();
  let hub = "";
  let spoke = "";
  const hubIf = `h${lab.tag}`.slice(0, 15);
  const spokeIf = `s${lab.tag}`.slice(0, 15);
  const hubVip = `100.64.${net}.1`;
  const spokeVip = `100.64.${net}.2`;

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    lab.link(hub, `198.18.${net}.1/24`, spoke, `198.18.${net}.2/24`);
    if (taltunIsHub) {
      await startTaltun(lab, hub, {
        mode: "server",
        tunName: hubIf,
        localAddr: "0.0.0.0:51820",
        vip: `${hubVip}/24`,
        privateKey: hubKeys.privateKey,
        peers: [{ vip: spokeVip, publicKey: spokeKeys.publicKey }],
      });
      await startWireguardGo(lab, spoke, {
        ifname: spokeIf,
        privateKey: spokeKeys.privateKey,
        address: `${spokeVip}/24`,
        peers: [{ publicKey: hubKeys.publicKey, endpoint: `198.18.${net}.1:51820`, allowedIps: [`100.64.${net}.0/24`] }],
      });
    } else {
      await startWireguardGo(lab, hub, {
        ifname: hubIf,
        privateKey: hubKeys.privateKey,
        listenPort: 51820,
        address: `${hubVip}/24`,
        peers: [{ publicKey: spokeKeys.publicKey, allowedIps: [`${spokeVip}/32`] }],
      });
      await startTaltun(lab, spoke, {
        mode: "client",
        tunName: spokeIf,
        localAddr: "0.0.0.0:0",
        vip: `${spokeVip}/24`,
        privateKey: spokeKeys.privateKey,
        peers: [{ vip: hubVip, publicKey: hubKeys.publicKey, endpoint: `198.18.${net}.1:51820`, allowedIps: [`100.64.${net}.0/24`] }],
      });
    }
  });
  afterAll(() => lab.close());

  it("pings from the spoke to the hub and back", async () => {
    expect(await pingOk(lab, spoke, hubVip)).toMatch(/3 received/);
    expect(await pingOk(lab, hub, spokeVip)).toMatch(/3 received/);
  });

  it("carries an iperf3 run both ways", async () => {
    expect(await iperf(lab, hub, spoke, hubVip)).toBeGreaterThan(1e6);
    expect(await iperf(lab, spoke, hub, spokeVip)).toBeGreaterThan(1e6);
  });

  it("survives a new handshake forced by the wireguard-go side", async () => {
    const wgNs = taltunIsHub ? spoke : hub;
    const wgIf = taltunIsHub ? spokeIf : hubIf;
    const peerKey = taltunIsHub ? hubKeys.publicKey : spokeKeys.publicKey;
    const before = wgLatestHandshakes(lab, wgNs, wgIf).get(peerKey) ?? 0;
    // Removing and re-adding the peer drops wireguard-go's session: the next packet needs a
    // fresh handshake, which Taltun must accept as a rekey of a live peer.
    await new Promise((r) => setTimeout(r, 1100)); // handshake times have 1 s resolution
    const conf = join(lab.dir, `${wgIf}.again.conf`);
    writeFileSync(conf, lab.exec(wgNs, ["wg", "showconf", wgIf]), { mode: 0o600 });
    lab.exec(wgNs, ["wg", "set", wgIf, "peer", peerKey, "remove"]);
    lab.exec(wgNs, ["wg", "setconf", wgIf, conf]);
    expect(await pingOk(lab, wgNs, taltunIsHub ? hubVip : spokeVip)).toMatch(/3 received/);
    const after = await waitFor("a newer handshake", 10_000, () => {
      const t = wgLatestHandshakes(lab, wgNs, wgIf).get(peerKey) ?? 0;
      return t > before ? t : undefined;
    });
    expect(after).toBeGreaterThan(before);
  });
});
