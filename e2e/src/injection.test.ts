/**
 * The injection hole of CHANGELOG 0.1.1 (issue 8), tried as an attacker on the underlay:
 * during a verified transfer from a spoke, a third host sends the hub datagrams that are
 * not authentic transport messages but carry well-formed IPv4 packets (to a UDP listener
 * on the hub, ICMP echo requests, to a second spoke through the hub's relay) at offset 16
 * and at other offsets, claiming the first spoke's tunnel address. None may reach a
 * listener or the hub's network stack, and the hub's counters account for every one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { TALTUN_CLI, type TaltunHub, taltunHub } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";

const INJECT = new URL("./inject.mjs", import.meta.url).pathname;
const COUNT = new URL("./udp-count.mjs", import.meta.url).pathname;
const LISTEN_PORT = 7777;
const DATAGRAMS = 7000;

describe("unauthenticated datagrams during a transfer", () => {
  const lab = new Lab("inj");
  let net: TaltunHub;
  let hub = "", spokeA = "", spokeB = "", evil = "";

  const snmp = (ns: string, proto: "Udp" | "Icmp", field: string): number => {
    const lines = lab.exec(ns, ["cat", "/proc/net/snmp"]).split("\n").filter((l) => l.startsWith(`${proto}:`));
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf(field)]);
  };
  const dataplane = (): Record<string, number> => JSON.parse(lab.exec(hub, ["node", TALTUN_CLI, "show", net.hubIf, "--json"])).dataplane;
  const listen = async (ns: string): Promise<LabProcess> => {
    const p = lab.spawn(ns, ["node", COUNT, "0.0.0.0", String(LISTEN_PORT)]);
    await waitFor(`listener in ${ns}`, 5000, () => (p.output().includes("listening") ? true : undefined));
    return p;
  };
  const counts = async (p: LabProcess) => {
    p.child.kill("SIGTERM");
    await p.exited;
    return JSON.parse(p.output().trim().split("\n").pop()!) as { evil: number; other: number };
  };

  beforeAll(async () => {
    requireLabPreconditions();
    net = await taltunHub(lab, 93, 2);
    hub = net.hub;
    [spokeA, spokeB] = net.spokes.map((s) => s.ns);
    evil = lab.netns("evil");
    lab.link(hub, "198.18.95.1/24", evil, "198.18.95.2/24", ["ve", "veth0"]);
    await pingOk(lab, spokeA, net.spokes[1].vip, 1); // relayed by the hub
  });
  afterAll(() => lab.close());

  it("delivers none of them to the hub or to another peer, and counts every one by reason", async () => {
    const [a, b] = net.spokes;
    const hubListener = await listen(hub);
    const relayListener = await listen(spokeB);
    // Positive control: the listeners do hear authentic traffic from the spoke.
    lab.exec(spokeA, ["node", "-e", `const s=require("dgram").createSocket("udp4");s.send("legit",${LISTEN_PORT},"${net.hubVip}",()=>s.send("legit",${LISTEN_PORT},"${b.vip}",()=>s.close()))`]);
    await new Promise((r) => setTimeout(r, 300));

    const before = dataplane();
    const udpErrorsBefore = snmp(hub, "Udp", "RcvbufErrors");
    const echoesBefore = snmp(hub, "Icmp", "InEchos");
    const attacker = lab.spawn(evil, ["node", INJECT, "198.18.95.1", "51820", String(DATAGRAMS), a.vip, net.hubVip, b.vip, String(LISTEN_PORT)]);
    // Authentic traffic all along, so forged datagrams share recvmmsg batches with it.
    let transfers = 0;
    while (attacker.child.exitCode === null) {
      const t = await verifiedTransfer(lab, hub, spokeA, net.hubVip, 8 << 20);
      expect(t.received).toBe(t.sent);
      transfers++;
    }
    expect(await attacker.exited).toBe(0);
    const report = JSON.parse(attacker.output().trim().split("\n").pop()!) as { sent: number; byShape: Record<string, number> };
    expect(report.sent).toBe(DATAGRAMS);
    await new Promise((r) => setTimeout(r, 500));

    const heard = await counts(hubListener);
    const relayed = await counts(relayListener);
    expect({ hub: heard.evil, relay: relayed.evil }).toEqual({ hub: 0, relay: 0 });
    expect({ hub: heard.other, relay: relayed.other }).toEqual({ hub: 1, relay: 1 });
    expect(snmp(hub, "Icmp", "InEchos") - echoesBefore).toBe(0);

    const after = dataplane();
    const delta = (k: string) => after[k] - before[k];
    // The injector paces itself, so the hub's kernel drops none and Taltun sees them all.
    expect(snmp(hub, "Udp", "RcvbufErrors") - udpErrorsBefore).toBe(0);
    const s = report.byShape;
    expect({
      noKeypair: delta("droppedNoKeypair"),
      type: delta("droppedType"),
      short: delta("droppedShort"),
    }).toEqual({
      noKeypair: s.udpAt16 + s.icmpAt16 + s.relayAt16 + s.udpAt32 + s.udpAt48,
      type: s.udpAt0,
      short: s.short,
    });
    for (const k of ["droppedAuth", "droppedReplay", "droppedSource", "droppedMalformed", "droppedCounterLimit"]) expect({ [k]: delta(k) }).toEqual({ [k]: 0 });
    expect(transfers).toBeGreaterThan(0);
  });
});
