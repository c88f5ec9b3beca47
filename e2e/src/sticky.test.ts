import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

// Sticky source addresses. A Taltun hub has two underlay addresses on each link, A (the
// primary: the kernel's choice for anything it sends the spoke) and B; each spoke dials B.
// Every reply, handshake response included, must come from B: a reply from A would look
// like another host, and a WireGuard peer roams to the source of each authentic packet.
// Then B is removed from the hub, and the tunnel goes on from A. One spoke is stock
// wireguard-go, one is Taltun; a capture in each spoke's namespace sees every datagram
// the hub sends it.
describe("sticky source addresses", () => {
  const lab = new Lab("sk");
  const hubKeys = wgKeyPair();
  const spokes = [
    { kind: "wireguard-go", net: 110, keys: wgKeyPair(), vip: "100.64.110.2", ns: "", ifname: "", capture: null as LabProcess | null },
    { kind: "taltun", net: 111, keys: wgKeyPair(), vip: "100.64.110.3", ns: "", ifname: "", capture: null as LabProcess | null },
  ];
  const hubVip = "100.64.110.1";
  const hubIf = `h${lab.tag}`.slice(0, 15);
  let hub = "";
  const A = (net: number) => `198.18.${net}.1`;
  const B = (net: number) => `198.18.${net}.2`;

  /** Lets the event loop take in what the captures printed (the lab's other calls block it). */
  const drain = () => new Promise((r) => setTimeout(r, 500));
  /** Source addresses of the datagrams from the hub's port the capture has seen, from byte `from` of its output on. */
  const sources = (p: LabProcess, from = 0) => new Set([...p.output().slice(from).matchAll(/ IP (\d+\.\d+\.\d+\.\d+)\.51820 > /g)].map((m) => m[1]));

  beforeAll(async () => {
    requireLabPreconditions();
    try {
      execFileSync("sh", ["-c", "command -v tcpdump"], { stdio: "ignore" });
    } catch {
      throw new Error("this test needs `tcpdump`: run bash scripts/setup.sh");
    }
    hub = lab.netns("hub");
    for (const [i, s] of spokes.entries()) {
      s.ns = lab.netns(`s${i}`);
      s.ifname = `s${i}${lab.tag}`.slice(0, 15);
      lab.link(hub, `${A(s.net)}/24`, s.ns, `198.18.${s.net}.3/24`, [`vs${i}`, "veth0"]);
      // B after A: a secondary address, never the kernel's choice for the spoke
      lab.exec(hub, ["ip", "addr", "add", `${B(s.net)}/24`, "dev", `vs${i}`]);
      expect(lab.exec(hub, ["ip", "route", "get", `198.18.${s.net}.3`])).toContain(`src ${A(s.net)}`);
      s.capture = lab.spawn(s.ns, ["tcpdump", "-n", "-l", "-i", "veth0", "-Q", "in", "udp and src port 51820"]);
      await waitFor(`tcpdump in ${s.ns}`, 5000, () => (s.capture!.output().includes("listening on") ? true : undefined));
    }
    await startTaltun(lab, hub, {
      mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `${hubVip}/24`, privateKey: hubKeys.privateKey,
      peers: spokes.map((s) => ({ vip: s.vip, publicKey: s.keys.publicKey })),
    });
    const [w, t] = spokes;
    await startWireguardGo(lab, w.ns, {
      ifname: w.ifname, privateKey: w.keys.privateKey, address: `${w.vip}/24`,
      peers: [{ publicKey: hubKeys.publicKey, endpoint: `${B(w.net)}:51820`, allowedIps: [`${hubVip}/32`] }],
    });
    await startTaltun(lab, t.ns, {
      mode: "client", tunName: t.ifname, localAddr: "0.0.0.0:0", vip: `${t.vip}/24`, privateKey: t.keys.privateKey,
      peers: [{ vip: hubVip, publicKey: hubKeys.publicKey, endpoint: `${B(t.net)}:51820`, allowedIps: [`${hubVip}/32`] }],
    });
  });
  afterAll(() => lab.close());

  it("answers each spoke from the address it dialled, handshakes included, not from the kernel's choice", async () => {
    for (const s of spokes) {
      await pingOk(lab, s.ns, hubVip, 3);
      await pingOk(lab, hub, s.vip, 3);
    }
    await drain();
    for (const s of spokes) {
      // the spoke's endpoint is the source of the hub's latest authentic packet
      expect(lab.exec(s.ns, ["wg", "show", s.ifname, "endpoints"]), s.kind).toContain(`\t${B(s.net)}:51820`);
      expect(sources(s.capture!), s.kind).toEqual(new Set([B(s.net)]));
    }
  });

  it("falls over to the remaining address when the dialled one is removed, and the tunnel goes on", async () => {
    await drain();
    const seen = spokes.map((s) => s.capture!.output().length);
    for (const [i, s] of spokes.entries()) lab.exec(hub, ["ip", "addr", "del", `${B(s.net)}/24`, "dev", `vs${i}`]);
    for (const s of spokes) {
      // The spoke still writes to B, which is gone: the hub speaks first, from A, and the
      // spoke follows it there.
      expect(await pingOk(lab, hub, s.vip, 3), s.kind).toMatch(/3 received/);
      expect(await pingOk(lab, s.ns, hubVip, 3), s.kind).toMatch(/3 received/);
    }
    await drain();
    for (const [i, s] of spokes.entries()) {
      expect(lab.exec(s.ns, ["wg", "show", s.ifname, "endpoints"]), s.kind).toContain(`\t${A(s.net)}:51820`);
      expect(sources(s.capture!, seen[i]), s.kind).toEqual(new Set([A(s.net)]));
    }
  });
});
