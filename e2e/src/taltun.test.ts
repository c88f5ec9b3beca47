import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, run } from "./netns.js";
import { TALTUN_CLI, type TaltunPair, taltunPair } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";

// Taltun against itself: a server and a client across one veth; the client knows the
// server by host name.
describe("taltun <-> taltun", () => {
  const lab = new Lab("tt");
  let a = "";
  let b = "";
  let pair: TaltunPair;

  beforeAll(async () => {
    requireLabPreconditions();
    a = lab.netns("a");
    b = lab.netns("b");
    lab.link(a, "198.18.30.1/24", b, "198.18.30.2/24");
    lab.hosts(b, ["198.18.30.1 hub.taltun.test"]);
    pair = await taltunPair(lab, a, b, 30, "hub.taltun.test:51820");
  });
  afterAll(() => lab.close());

  it("pings both ways", async () => {
    expect(await pingOk(lab, b, "100.64.30.1")).toMatch(/3 received/);
    expect(await pingOk(lab, a, "100.64.30.2")).toMatch(/3 received/);
  });

  it("carries a TCP transfer intact both ways", async () => {
    const up = await verifiedTransfer(lab, a, b, "100.64.30.1", 8 << 20);
    expect(up.received).toBe(up.sent);
    const down = await verifiedTransfer(lab, b, a, "100.64.30.2", 8 << 20, 5202);
    expect(down.received).toBe(down.sent);
  });

  it("answers `wg show` and `taltun show` with the peer's handshake and bytes", () => {
    const dump = lab.exec(a, ["wg", "show", pair.hubIf, "dump"]).trim().split("\n");
    const peer = dump[1].split("\t");
    expect(peer[0]).toBe(pair.spokeKeys.publicKey);
    expect(Number(peer[4])).toBeGreaterThan(0); // latest handshake
    expect(Number(peer[5])).toBeGreaterThan(8 << 20); // rx bytes
    const show = JSON.parse(lab.exec(a, ["node", TALTUN_CLI, "show", pair.hubIf, "--json"]));
    expect(JSON.stringify(show)).toContain(pair.spokeKeys.publicKey);
  });

  it("leaves no interface, address or route behind after SIGTERM, and exits 0", async () => {
    pair.hub.child.kill("SIGTERM");
    expect(await pair.hub.exited).toBe(0);
    expect(() => run("ip", ["-n", a, "link", "show", pair.hubIf])).toThrow(/does not exist/);
    expect(run("ip", ["-n", a, "route"])).not.toContain("100.64.30.");
    expect(run("ip", ["-n", a, "addr"])).not.toContain("100.64.30.1");
  });
});
