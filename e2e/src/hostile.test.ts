import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { TALTUN_CLI, type TaltunPair, taltunPair } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";

const FLOOD = new URL("./flood.mjs", import.meta.url).pathname;

// Garbage from a third host must be dropped without disturbing the tunnel or its workers.
describe("hostile datagrams", () => {
  const lab = new Lab("ho");
  let hub = "";
  let spoke = "";
  let attacker = "";
  let pair: TaltunPair;

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    attacker = lab.netns("evil");
    lab.link(hub, "198.18.90.1/24", spoke, "198.18.90.2/24", ["vs", "veth0"]);
    lab.link(hub, "198.18.91.1/24", attacker, "198.18.91.2/24", ["ve", "veth0"]);
    pair = await taltunPair(lab, hub, spoke, 90);
    await pingOk(lab, spoke, pair.hubVip, 1);
  });
  afterAll(() => lab.close());

  it("drops 20,000 malformed, forged and oversized datagrams and keeps carrying traffic", async () => {
    const flood = lab.spawn(attacker, ["node", FLOOD, "198.18.91.1", "51820", "20000"]);
    const transfer = verifiedTransfer(lab, hub, spoke, "100.64.90.1", 4 << 20);
    expect(await flood.exited).toBe(0);
    expect(JSON.parse(flood.output()).sent).toBe(20000);
    const t = await transfer;
    expect(t.received).toBe(t.sent);
    expect(await pingOk(lab, spoke, "100.64.90.1")).toMatch(/3 received/);
    expect(pair.hub.child.exitCode).toBeNull();
    expect(pair.hub.output()).not.toMatch(/error|failed/i);
    // Every hostile datagram is accounted for: a third of them are forged transport
    // packets (unknown receiver index, or too short), four ninths carry handshake types and
    // are dropped by the workers for their size, a bad MAC1 or an index that is not ours.
    const d = JSON.parse(lab.exec(hub, ["node", TALTUN_CLI, "show", pair.hubIf, "--json"])).dataplane;
    expect(d.droppedNoKeypair + d.droppedShort).toBeGreaterThanOrEqual(6000);
    expect(d.handshakeMessages + d.droppedRingFull + d.droppedHandshakeSize + d.rejectedBadMac1 + d.rejectedUnknownIndex).toBeGreaterThanOrEqual(8000);
    // A forged handshake message cannot reach the control plane (the spoke's own may).
    expect(d.handshakeMessages).toBeLessThan(5);
    expect(d.droppedAuth + d.droppedReplay + d.droppedSource).toBe(0);
  });
});
