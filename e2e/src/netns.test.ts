import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { startWireguardGo, wgKeyPair, wgLatestHandshakes } from "./wireguard-go.js";

// The reference setup the interop tests stand on: two stock wireguard-go peers in a lab.
// If this fails, an interop failure says nothing about Taltun.
describe("lab with two wireguard-go peers", () => {
  const lab = new Lab("lab");
  let a = "";
  let b = "";
  const ka = wgKeyPair();
  const kb = wgKeyPair();

  beforeAll(async () => {
    requireLabPreconditions();
    a = lab.netns("a");
    b = lab.netns("b");
    lab.link(a, "198.18.10.1/24", b, "198.18.10.2/24");
    await startWireguardGo(lab, a, {
      ifname: `wa${lab.tag}`.slice(0, 15),
      privateKey: ka.privateKey,
      listenPort: 51820,
      address: "100.64.10.1/24",
      peers: [{ publicKey: kb.publicKey, allowedIps: ["100.64.10.2/32"] }],
    });
    await startWireguardGo(lab, b, {
      ifname: `wb${lab.tag}`.slice(0, 15),
      privateKey: kb.privateKey,
      address: "100.64.10.2/24",
      peers: [{ publicKey: ka.publicKey, endpoint: "198.18.10.1:51820", allowedIps: ["100.64.10.0/24"] }],
    });
  });
  afterAll(() => lab.close());

  it("pings through the tunnel and records a handshake", () => {
    const out = lab.exec(b, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "100.64.10.1"]);
    expect(out).toMatch(/3 received/);
    expect(wgLatestHandshakes(lab, b, `wb${lab.tag}`.slice(0, 15)).get(ka.publicKey)).toBeGreaterThan(0);
  });

  it("removes every namespace it made", async () => {
    const other = new Lab("gone");
    const ns = other.netns("x");
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).toContain(ns);
    await other.close();
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(ns);
  });
});
