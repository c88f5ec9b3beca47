import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { taltunPair } from "./taltun.js";
import { pingOk, startTransfer } from "./transfer.js";

// A spoke's underlay address changes in the middle of a TCP transfer; the hub follows it
// to the new source of authenticated packets and the transfer completes intact.
describe("roaming", () => {
  const lab = new Lab("rm");
  let hub = "";
  let spoke = "";
  let hubIf = "";

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    lab.link(hub, "198.18.60.1/24", spoke, "198.18.60.2/24");
    ({ hubIf } = await taltunPair(lab, hub, spoke, 60));
  });
  afterAll(() => lab.close());

  it("follows the spoke to its new address mid-transfer", async () => {
    await pingOk(lab, spoke, "100.64.60.1", 1);
    expect(lab.exec(hub, ["wg", "show", hubIf, "endpoints"])).toContain("198.18.60.2:");
    // Spoke to hub, so the hub's replies (ACKs) must follow the spoke to its new address.
    const done = await startTransfer(lab, hub, spoke, "100.64.60.1", 128 << 20);
    await new Promise((r) => setTimeout(r, 150));
    // Without promotion, deleting the primary address would delete the new one with it.
    lab.exec(spoke, ["sysctl", "-qw", "net.ipv4.conf.veth0.promote_secondaries=1"]);
    lab.exec(spoke, ["ip", "addr", "add", "198.18.60.3/24", "dev", "veth0"]);
    lab.exec(spoke, ["ip", "addr", "del", "198.18.60.2/24", "dev", "veth0"]);
    const t = await done;
    expect(t.received).toBe(t.sent);
    await pingOk(lab, spoke, "100.64.60.1", 1);
    expect(lab.exec(hub, ["wg", "show", hubIf, "endpoints"])).toContain("198.18.60.3:");
  });
});
