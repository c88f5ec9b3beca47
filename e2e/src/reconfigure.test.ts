/**
 * Live reconfiguration under traffic (issue 8): while two spokes ping a running hub, peers
 * are added, removed and added back with `wg set`. The spokes' sessions are untouched:
 * not one ping is lost, and no new handshake was needed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { type TaltunHub, taltunHub } from "./taltun.js";
import { wgKeyPair } from "./wireguard-go.js";

const PINGS = 40;

describe("wg set on a running hub", () => {
  const lab = new Lab("rc");
  let net: TaltunHub;

  beforeAll(async () => {
    requireLabPreconditions();
    net = await taltunHub(lab, 96, 2);
  });
  afterAll(() => lab.close());

  it("adding, removing and re-adding peers loses no ping of the spokes that stay", async () => {
    const handshakes = () => lab.exec(net.hub, ["wg", "show", net.hubIf, "latest-handshakes"]);
    const before = handshakes();
    const pings = net.spokes.map((s) => lab.spawn(s.ns, ["ping", "-c", String(PINGS), "-i", "0.1", "-W", "1", net.hubVip]));
    const newcomers = [wgKeyPair(), wgKeyPair()];
    const wg = (...args: string[]) => lab.exec(net.hub, ["wg", "set", net.hubIf, ...args]);
    await new Promise((r) => setTimeout(r, 800));
    wg("peer", newcomers[0].publicKey, "allowed-ips", "100.64.96.100/32");
    wg("peer", newcomers[1].publicKey, "allowed-ips", "100.64.96.101/32", "endpoint", "198.18.96.200:51820");
    await new Promise((r) => setTimeout(r, 500));
    wg("peer", newcomers[0].publicKey, "remove");
    await new Promise((r) => setTimeout(r, 500));
    wg("peer", newcomers[0].publicKey, "allowed-ips", "100.64.96.100/32");
    wg("peer", newcomers[1].publicKey, "remove");
    await new Promise((r) => setTimeout(r, 500));
    wg("peer", newcomers[1].publicKey, "allowed-ips", "100.64.96.101/32");

    for (const [i, p] of pings.entries()) {
      expect(await p.exited).toBe(0);
      expect({ spoke: i, summary: p.output().match(/\d+ packets transmitted, \d+ received/)?.[0] }).toEqual({
        spoke: i,
        summary: `${PINGS} packets transmitted, ${PINGS} received`,
      });
    }
    // The spokes' sessions are the ones they had: the same latest handshakes.
    const kept = before.split("\n").filter((l) => net.spokes.some((s) => l.startsWith(s.keys.publicKey)));
    expect(kept).toHaveLength(2);
    const after = handshakes();
    for (const line of kept) expect(after).toContain(line);
  });
});
