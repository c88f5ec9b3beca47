/**
 * Live reconfiguration leaves the sessions it does not change alone: adding, removing and
 * re-adding peers, through the Device and through the UAPI (`wg set`), while other peers
 * have live sessions keeps those sessions' keypair slots, keys, counters and traffic.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ipv4, World, type Node } from "../../test/harness.js";
import { uapiDevice } from "../runtime/uapi-device.js";
import { generatePrivateKey, publicKeyOf } from "../protocol/dh.js";
import { encodeKeyHex } from "../protocol/keys.js";
import { keypairFlags } from "../tables/keypair-slot.js";
import { CURRENT, keypairOf, NEXT, peerGeneration, PREVIOUS, readCounters, readEndpoint } from "../tables/peer-slot.js";
import { KEYPAIR_SLOT_BYTES, type SharedTables } from "../tables/shared-tables.js";
import { lookupAddress } from "../tables/allowed-ips.js";
import { parseIp } from "../protocol/address.js";
import { parseSet, SetParser } from "../uapi/protocol.js";

const rxPackets = (t: SharedTables, peer: number) => readCounters(t, peer).rxPackets;

/** The UAPI view of `hub`'s Device, as a running interface builds it, without sockets. */
function uapiOf(hub: Node, changed: () => void = () => {}) {
  return uapiDevice({
    device: hub.device,
    listenPort: () => 51820,
    setListenPort: async (port) => port,
    fwmark: () => 0,
    setFwmark: () => {},
    privateKey: () => hub.privateKey,
    setPrivateKey: () => {},
    changed,
    counters: () => ({}),
  });
}

function hubWithSpokes(n: number) {
  const w = new World();
  const hub = w.addNode("hub", "100.64.0.1");
  const spokes = Array.from({ length: n }, (_, i) => w.addNode(`s${i}`, `100.64.0.${10 + i}`));
  for (const s of spokes) {
    w.connect(hub, s);
    w.clock.advance(100);
    w.apply(s, s.device.initiate(w.slotOf(s, hub), w.clock.now()));
    w.pump();
    w.sendData(s, hub, [new Uint8Array(0)]); // confirms the hub's `next` keypair
    w.pump();
  }
  return { w, hub, spokes };
}

/** Everything of `spoke`'s session at the hub that reconfiguring others must not touch. */
function session(w: World, hub: Node, spoke: Node) {
  const t = hub.device.tables;
  const peer = w.slotOf(hub, spoke);
  const slots = ([CURRENT, PREVIOUS, NEXT] as const).map((f) => keypairOf(t, peer, f));
  const start = t.keypairByte(slots[0], 0);
  return {
    peer,
    slots,
    flags: keypairFlags(t, slots[0]),
    // Keys, indices, counters and replay window of the current keypair, byte for byte.
    current: createHash("sha256").update(t.u8.subarray(start, start + KEYPAIR_SLOT_BYTES)).digest("hex"),
  };
}

function trafficFlows(w: World, hub: Node, spokes: Node[]): void {
  for (const s of spokes) {
    const before = rxPackets(hub.device.tables, w.slotOf(hub, s));
    const packets = Array.from({ length: 8 }, (_, k) => ipv4(s.vip, hub.vip, 100, k));
    expect(w.sendData(s, hub, packets), `${s.name} can still seal`).toBe(8);
    const delivered = hub.delivered.length;
    w.pump();
    expect(hub.delivered.length - delivered, `${s.name}'s packets reach the hub`).toBe(8);
    expect(rxPackets(hub.device.tables, w.slotOf(hub, s))).toBe(before + 8);
    // And the other way: the hub still seals for the spoke with the same session.
    const back = hub.plane.seal(w.slotOf(hub, s), [ipv4(hub.vip, s.vip, 60)], w.clock.now());
    expect(back[0], `the hub still has a session with ${s.name}`).not.toBeNull();
  }
}

describe("peers added and removed while others have sessions", () => {
  it("through the Device: new, removed and re-added peers leave live sessions untouched", () => {
    const { w, hub, spokes } = hubWithSpokes(3);
    const before = spokes.map((s) => session(w, hub, s));
    const keys = Array.from({ length: 4 }, () => publicKeyOf(generatePrivateKey()));

    for (const [i, k] of keys.entries()) hub.device.addPeer({ publicKey: k, allowedIps: [`100.64.1.${i}/32`] });
    hub.device.removePeer(keys[1]);
    hub.device.removePeer(keys[2]);
    hub.device.addPeer({ publicKey: keys[2], allowedIps: ["100.64.1.2/32"] }); // back into a freed slot
    hub.device.addPeer({ publicKey: publicKeyOf(generatePrivateKey()) }); // reuses the other one

    expect(spokes.map((s) => session(w, hub, s))).toEqual(before);
    trafficFlows(w, hub, spokes);
  });

  it("through the UAPI (wg set): add, remove, re-add", async () => {
    const { w, hub, spokes } = hubWithSpokes(2);
    const before = spokes.map((s) => session(w, hub, s));
    const uapi = uapiOf(hub);
    const other = publicKeyOf(generatePrivateKey());
    const set = (...lines: string[]) => uapi.apply(parseSet(lines));
    await set(`public_key=${encodeKeyHex(other)}`, "allowed_ip=100.64.2.0/24");
    await set(`public_key=${encodeKeyHex(other)}`, "remove=true");
    await set(`public_key=${encodeKeyHex(other)}`, "allowed_ip=100.64.2.0/24");

    expect(spokes.map((s) => session(w, hub, s))).toEqual(before);
    trafficFlows(w, hub, spokes);
  });

  it("a removed peer's slot is wiped before another peer gets it: no keypair, counters or endpoint carry over", () => {
    const { w, hub, spokes } = hubWithSpokes(2);
    const [gone, kept] = spokes;
    const t = hub.device.tables;
    const slot = w.slotOf(hub, gone);
    const generation = peerGeneration(t, slot);
    hub.device.removePeer(gone.publicKey);
    const newcomer = publicKeyOf(generatePrivateKey());
    expect(hub.device.addPeer({ publicKey: newcomer })).toBe(slot);
    expect(([CURRENT, PREVIOUS, NEXT] as const).map((f) => keypairOf(t, slot, f))).toEqual([-1, -1, -1]);
    expect(rxPackets(t, slot)).toBe(0);
    expect(readEndpoint(t, slot).record.every((b) => b === 0)).toBe(true);
    expect(peerGeneration(t, slot)).toBe(generation + 1);
    expect(hub.plane.seal(slot, [ipv4(hub.vip, "100.64.0.99", 20)], w.clock.now())[0]).toBeNull();
    trafficFlows(w, hub, [kept]);
  });

  it("a request applied in parts (wg setconf of thousands of lines) reaches the workers whole, after the last part, and no removed peer's slot changes hands meanwhile", () => {
    const { w, hub, spokes } = hubWithSpokes(2);
    const [gone, kept] = spokes;
    const before = session(w, hub, kept);
    let published = 0;
    const uapi = uapiOf(hub, () => void published++);
    const goneSlot = w.slotOf(hub, gone);
    const snapshot = hub.device.allowedIps.snapshot;
    const newcomers = Array.from({ length: 3 }, () => publicKeyOf(generatePrivateKey()));
    const parser = new SetParser();
    const lines = [`public_key=${encodeKeyHex(gone.publicKey)}`, "remove=true"];
    newcomers.forEach((k, i) => lines.push(`public_key=${encodeKeyHex(k)}`, `allowed_ip=100.64.3.${i}/32`));
    for (const line of lines) {
      parser.line(line);
      if (line.startsWith("allowed_ip")) uapi.apply(parser.take(true)!);
    }
    // Three parts applied, more to come: the device has changed, the workers' view has not.
    expect(hub.device.peerSlot(gone.publicKey)).toBe(-1);
    expect(newcomers.map((k) => hub.device.peerSlot(k))).not.toContain(goneSlot);
    expect(hub.device.allowedIps.snapshot).toBe(snapshot);
    expect(published).toBe(0);
    uapi.apply(parser.take() ?? { replacePeers: false, peers: [] });
    expect(published).toBe(1);
    const now = hub.device.allowedIps.snapshot;
    expect(now).not.toBe(snapshot);
    expect(lookupAddress(now, parseIp("100.64.3.2"), 0, 4)).toBe(hub.device.peerSlot(newcomers[2]));
    expect(lookupAddress(now, parseIp(gone.vip), 0, 4)).toBe(-1);
    // Released: the slot is free again for the next peer.
    expect(hub.device.addPeer({ publicKey: publicKeyOf(generatePrivateKey()) })).toBe(goneSlot);
    expect(session(w, hub, kept)).toEqual(before);
    trafficFlows(w, hub, [kept]);
  });
});
