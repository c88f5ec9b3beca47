/**
 * A configured peer that turns hostile (issue 12): rogue-peer.mjs does a real handshake
 * with a Taltun hub, then sends authentic transport messages no honest peer sends. The
 * hub's counters (`taltun show --json`, the metrics endpoint) and a UDP listener in the
 * hub's tunnel namespace show what got through: a far-ahead counter is taken and moves the
 * replay window, older counters beyond it are replays; counters at REJECT_AFTER_MESSAGES
 * and above are refused; 50,000 keepalives are counted and deliver nothing while another
 * spoke's pings and `wg show` go on; a foreign inner source address is dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataplane, scrape, snmp } from "./adversary.js";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { wgKeyPair } from "./wireguard-go.js";

const ROGUE = new URL("./rogue-peer.mjs", import.meta.url).pathname;
const COUNT = new URL("./udp-count.mjs", import.meta.url).pathname;
const N = 178;
const HUB_VIP = `100.64.${N}.1`;
const SPOKE_VIP = `100.64.${N}.10`;
const ROGUE_VIP = `100.64.${N}.20`;
const LISTEN_PORT = 7777;
const KEEPALIVES = 50_000;
const METRICS = "http://127.0.0.1:9586/metrics";

describe("a rogue peer with a real session", () => {
  const lab = new Lab("rg");
  const [hk, sk, rk] = [wgKeyPair(), wgKeyPair(), wgKeyPair()];
  const hubIf = `h${lab.tag}`.slice(0, 15);
  let hub = "", spoke = "", rogueNs = "";

  /** Runs one phase of the rogue peer and returns what it sent. */
  const rogue = async (phase: string, ...args: string[]): Promise<{ handshakeMs: number; sent: { counter: string; payload: string }[] }> => {
    const p = lab.spawn(rogueNs, ["node", ROGUE, `198.18.${N + 1}.1`, "51820", hk.publicKey, rk.privateKey, ROGUE_VIP, HUB_VIP, String(LISTEN_PORT), SPOKE_VIP, phase, ...args]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`rogue-peer ${phase} exited ${code}: ${p.output()}`);
    return JSON.parse(p.output().trim().split("\n").pop()!);
  };
  const listen = async (): Promise<LabProcess> => {
    const p = lab.spawn(hub, ["node", COUNT, HUB_VIP, String(LISTEN_PORT)]);
    await waitFor("listener", 5000, () => (p.output().includes("listening") ? true : undefined));
    return p;
  };
  /** What the listener heard, by payload, once it is stopped. */
  const heard = async (p: LabProcess): Promise<Record<string, number>> => {
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill("SIGTERM");
    await p.exited;
    return JSON.parse(p.output().trim().split("\n").pop()!).payloads;
  };
  const counters = () => dataplane(lab, hub, hubIf);
  const rogueReceived = () => scrape(lab, hub, METRICS).get(`taltun_peer_receive_packets_total{public_key="${rk.publicKey}",name="rogue"}`) ?? NaN;

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    rogueNs = lab.netns("rogue");
    lab.link(hub, `198.18.${N}.1/24`, spoke, `198.18.${N}.2/24`, ["vs", "veth0"]);
    lab.link(hub, `198.18.${N + 1}.1/24`, rogueNs, `198.18.${N + 1}.2/24`, ["vr", "veth0"]);
    await startTaltun(lab, hub, {
      mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `${HUB_VIP}/24`, privateKey: hk.privateKey,
      peers: [{ vip: SPOKE_VIP, publicKey: sk.publicKey, name: "spoke" }, { vip: ROGUE_VIP, publicKey: rk.publicKey, name: "rogue" }],
    }, ["--metrics-addr", "9586"]);
    await startTaltun(lab, spoke, {
      mode: "client", tunName: `s${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:0", vip: `${SPOKE_VIP}/24`, privateKey: sk.privateKey,
      peers: [{ vip: HUB_VIP, publicKey: hk.publicKey, endpoint: `198.18.${N}.1:51820`, allowedIps: [`100.64.${N}.0/24`] }],
    });
    await pingOk(lab, spoke, HUB_VIP, 1);
  });
  afterAll(() => lab.close());

  it("takes an authentic counter 2^40 ahead, then drops counters beyond the replay window behind it (droppedReplay)", async () => {
    const listener = await listen();
    const before = counters();
    const t0 = performance.now();
    const r = await rogue("window");
    console.log(`window phase: handshake ${r.handshakeMs} ms, whole run ${Math.round(performance.now() - t0)} ms`);
    expect(r.sent).toHaveLength(8);
    expect(await heard(listener)).toEqual({ "first": 1, "far-ahead": 1, "just-behind": 1, "behind-2049": 1, "inside-window": 1 });
    const after = counters();
    expect(after.droppedReplay - before.droppedReplay).toBe(3); // beyond-window, old, repeat
    expect(after.droppedAuth - before.droppedAuth).toBe(0);
  });

  it("drops counters at and above REJECT_AFTER_MESSAGES (droppedCounterLimit), never delivering them, and takes the last one below", async () => {
    const listener = await listen();
    const before = counters();
    await rogue("limit");
    expect(await heard(listener)).toEqual({ "below-limit": 1 });
    const after = counters();
    expect(after.droppedCounterLimit - before.droppedCounterLimit).toBe(3);
    expect(after.droppedAuth - before.droppedAuth).toBe(0);
  });

  it(`counts ${KEEPALIVES.toLocaleString("en")} keepalives, delivers nothing, and another spoke's pings and wg show carry on`, async () => {
    const listener = await listen();
    const before = counters();
    const rxBefore = rogueReceived();
    const rcvbufBefore = snmp(lab, hub, "Udp", "RcvbufErrors");
    const flood = rogue("keepalives", String(KEEPALIVES));
    const pings = lab.spawn(spoke, ["ping", "-c", "40", "-i", "0.1", "-W", "1", HUB_VIP]);
    let done = false;
    void flood.finally(() => (done = true));
    const showMs: number[] = [];
    while (!done) {
      const t = performance.now();
      lab.exec(hub, ["wg", "show", hubIf, "latest-handshakes"], undefined, 5000);
      showMs.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
    await flood;
    expect(await pings.exited).toBe(0);
    expect(pings.output()).toContain("40 packets transmitted, 40 received");
    expect(Math.max(...showMs)).toBeLessThan(1000);
    expect(await heard(listener)).toEqual({});
    const after = counters();
    // Paced, so the kernel dropped none and the hub authenticated every one.
    expect(snmp(lab, hub, "Udp", "RcvbufErrors") - rcvbufBefore).toBe(0);
    expect(rogueReceived() - rxBefore).toBe(KEEPALIVES);
    const keepalives = after.keepalivesReceived - before.keepalivesReceived;
    expect(keepalives).toBeGreaterThanOrEqual(KEEPALIVES);
    expect(keepalives).toBeLessThanOrEqual(KEEPALIVES + 5); // the honest spoke's own, if its timer fired
    expect(after.droppedMalformed - before.droppedMalformed).toBe(0);
    console.log(`rogue keepalives: ${keepalives} counted, wg show max ${Math.round(Math.max(...showMs))} ms over ${showMs.length} calls`);
  }, 60_000);

  it("drops authentic packets whose inner source is another peer's address (droppedSource)", async () => {
    const listener = await listen();
    const before = counters();
    await rogue("source");
    expect(await heard(listener)).toEqual({ "own-source": 1 });
    expect(counters().droppedSource - before.droppedSource).toBe(10);
  });
});
