/**
 * Replay of captured messages, end to end (issue 12): `tcpdump` on the hub's underlay veth
 * records a spoke's real handshake and transport messages during a verified transfer;
 * then, during a second transfer, an attacker replays them to the hub from its own address
 * and from the spoke's own address and port (spoofed), and replays the hub's handshake
 * response to the spoke. Every replayed transport message is counted as droppedReplay and
 * none reaches the hub's network stack; a replayed initiation is rejected by its TAI64N
 * timestamp and replaces nothing (same handshake time, same endpoint); a replayed
 * response changes nothing at the spoke; pings and the transfer go on intact. Once with a
 * Taltun spoke, once with stock wireguard-go as the spoke.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CapturedDatagram, dataplane, messageTypeOf, readPcapUdp, scrape, sendDatagrams, snmp, wgShow } from "./adversary.js";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk, startTransfer, verifiedTransfer } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

const COUNT = new URL("./udp-count.mjs", import.meta.url).pathname;
const LISTEN_PORT = 7777;
const LEGIT = 20;
const PINGS = 20;
const REJECTED_REPLAYED = 'taltun_handshakes_rejected_total{reason="replayed_timestamp"}';

for (const [kind, n] of [["taltun", 170], ["wireguard-go", 174]] as const) {
  describe(`replayed captures, ${kind} spoke`, () => {
    const lab = new Lab(`rp${kind[0]}`);
    const [hk, sk] = [wgKeyPair(), wgKeyPair()];
    const hubIf = `h${lab.tag}`.slice(0, 15);
    const spokeIf = `s${lab.tag}`.slice(0, 15);
    const [hubAddr, spokeAddr, hubVip] = [`198.18.${n}.1`, `198.18.${n}.2`, `100.64.${n}.1`];
    const metrics = "http://127.0.0.1:9586/metrics";
    let hub = "", spoke = "", evil = "";
    let listener: LabProcess;

    beforeAll(() => {
      requireLabPreconditions();
      if (spawnSync("sh", ["-c", "command -v tcpdump"]).status !== 0) throw new Error("the replay test captures with tcpdump: run bash scripts/setup.sh");
      hub = lab.netns("hub");
      spoke = lab.netns("spoke");
      evil = lab.netns("evil");
      lab.link(hub, `${hubAddr}/24`, spoke, `${spokeAddr}/24`, ["vs", "veth0"]);
      lab.link(hub, `198.18.${n + 1}.1/24`, evil, `198.18.${n + 1}.2/24`, ["ve", "veth0"]);
      lab.link(spoke, `198.18.${n + 2}.1/24`, evil, `198.18.${n + 2}.2/24`, ["ve", "veth1"]);
      // The attacker can also speak as the spoke: its address on lo, the hub reached over the attacker's own link.
      lab.exec(evil, ["ip", "addr", "add", `${spokeAddr}/32`, "dev", "lo"]);
      lab.exec(evil, ["ip", "route", "add", `${hubAddr}/32`, "via", `198.18.${n + 1}.1`]);
    });
    afterAll(() => lab.close());

    it("rejects replayed transport messages (droppedReplay, nothing delivered), initiations (TAI64N) and responses; the session and transfer stay intact", async () => {
      const pcap = join(lab.dir, "hub.pcap");
      const dump = lab.spawn(hub, ["tcpdump", "-i", "vs", "-U", "-n", "-s", "0", "-w", pcap, "udp", "port", "51820"]);
      await waitFor("tcpdump", 5000, () => (dump.output().includes("listening on") ? true : undefined));

      await startTaltun(lab, hub, {
        mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `${hubVip}/24`, privateKey: hk.privateKey,
        peers: [{ vip: `100.64.${n}.2`, publicKey: sk.publicKey }],
      }, ["--metrics-addr", "9586"]);
      const hubPeer = { vip: hubVip, publicKey: hk.publicKey, endpoint: `${hubAddr}:51820`, allowedIps: [`100.64.${n}.0/24`] };
      if (kind === "taltun") {
        await startTaltun(lab, spoke, { mode: "client", tunName: spokeIf, localAddr: "0.0.0.0:0", vip: `100.64.${n}.2/24`, privateKey: sk.privateKey, peers: [hubPeer] });
      } else {
        await startWireguardGo(lab, spoke, { ifname: spokeIf, privateKey: sk.privateKey, address: `100.64.${n}.2/24`, peers: [hubPeer] });
      }
      listener = lab.spawn(hub, ["node", COUNT, hubVip, String(LISTEN_PORT)]);
      await waitFor("listener", 5000, () => (listener.output().includes("listening") ? true : undefined));

      // Phase 1, captured: a handshake, pings, UDP datagrams to the listener, a TCP transfer.
      await pingOk(lab, spoke, hubVip, 5);
      lab.exec(spoke, ["node", "-e", `const s=require("dgram").createSocket("udp4");let i=0;const f=()=>i++<${LEGIT}?s.send("legit",${LISTEN_PORT},"${hubVip}",f):s.close();f()`]);
      const first = await verifiedTransfer(lab, hub, spoke, hubVip, 2 << 20);
      expect(first.received).toBe(first.sent);
      await new Promise((r) => setTimeout(r, 300));
      dump.child.kill("SIGTERM");
      await dump.exited;

      const captured = readPcapUdp(pcap);
      const toHub = (t: number) => captured.filter((d) => d.dst === hubAddr && d.dport === 51820 && messageTypeOf(d) === t);
      const transport = toHub(4);
      const initiations = toHub(1);
      const responses = captured.filter((d) => d.src === hubAddr && messageTypeOf(d) === 2);
      expect({ initiations: initiations.length, responses: responses.length }).toEqual({ initiations: 1, responses: 1 });
      expect(transport.length).toBeGreaterThan(1000);
      const spokePort = initiations[0].sport;

      // Phase 2: the replays, during a second transfer and a ping run.
      const before = dataplane(lab, hub, hubIf);
      const rejectedBefore = scrape(lab, hub, metrics).get(REJECTED_REPLAYED) ?? NaN;
      const echoesBefore = snmp(lab, hub, "Icmp", "InEchos");
      const rcvbufBefore = snmp(lab, hub, "Udp", "RcvbufErrors");
      const hubHandshake = wgShow(lab, hub, hubIf, "latest-handshakes").get(sk.publicKey);
      const hubEndpoint = wgShow(lab, hub, hubIf, "endpoints").get(sk.publicKey);
      const spokeHandshake = wgShow(lab, spoke, spokeIf, "latest-handshakes").get(hk.publicKey);
      expect(hubEndpoint).toBe(`${spokeAddr}:${spokePort}`);
      const second = await startTransfer(lab, hub, spoke, hubVip, 4 << 20, 5202);
      const pings = lab.spawn(spoke, ["ping", "-c", String(PINGS), "-i", "0.1", "-W", "1", hubVip]);

      const payloads = (ds: CapturedDatagram[]) => ds.map((d) => d.payload);
      const fromEvil = (ds: CapturedDatagram[]) => sendDatagrams(lab, evil, payloads(ds), hubAddr, 51820);
      const asSpoke = (ds: CapturedDatagram[]) => sendDatagrams(lab, evil, payloads(ds), hubAddr, 51820, spokeAddr, spokePort);
      expect(fromEvil(transport) + asSpoke(transport)).toBe(2 * transport.length);
      expect(fromEvil(initiations)).toBe(1);
      await new Promise((r) => setTimeout(r, 100)); // apart: not the per-peer flood guard
      expect(asSpoke(initiations)).toBe(1);
      expect(sendDatagrams(lab, evil, payloads(responses), `198.18.${n + 2}.1`, spokePort)).toBe(1);

      const t = await second;
      expect(t.received).toBe(t.sent);
      expect(await pings.exited).toBe(0);
      expect(pings.output()).toContain(`${PINGS} packets transmitted, ${PINGS} received`);
      await new Promise((r) => setTimeout(r, 300));

      const after = dataplane(lab, hub, hubIf);
      const delta = (k: string) => after[k] - before[k];
      // Exact, unless the hub's kernel dropped some datagrams (paced, it should drop none).
      const kernelDropped = snmp(lab, hub, "Udp", "RcvbufErrors") - rcvbufBefore;
      expect(delta("droppedReplay")).toBeLessThanOrEqual(2 * transport.length);
      expect(delta("droppedReplay")).toBeGreaterThanOrEqual(2 * transport.length - kernelDropped);
      expect(kernelDropped).toBeLessThan(transport.length / 100);
      for (const k of ["droppedAuth", "droppedNoKeypair", "droppedSource", "droppedMalformed", "droppedCounterLimit"]) expect({ [k]: delta(k) }).toEqual({ [k]: 0 });
      expect(scrape(lab, hub, metrics).get(REJECTED_REPLAYED)! - rejectedBefore).toBe(2);
      // Nothing replayed reached the hub's stack: only the new pings' echoes, only the legit datagrams.
      expect(snmp(lab, hub, "Icmp", "InEchos") - echoesBefore).toBe(PINGS);
      listener.child.kill("SIGTERM");
      await listener.exited;
      const heard = JSON.parse(listener.output().trim().split("\n").pop()!) as { evil: number; other: number };
      expect({ evil: heard.evil, other: heard.other }).toEqual({ evil: 0, other: LEGIT });
      // The session is the one the spoke made: no new handshake on either side, the endpoint unchanged.
      expect(wgShow(lab, hub, hubIf, "latest-handshakes").get(sk.publicKey)).toBe(hubHandshake);
      expect(wgShow(lab, hub, hubIf, "endpoints").get(sk.publicKey)).toBe(hubEndpoint);
      expect(wgShow(lab, spoke, spokeIf, "latest-handshakes").get(hk.publicKey)).toBe(spokeHandshake);
      console.log(`replay (${kind} spoke): ${2 * transport.length} transport replays -> droppedReplay +${delta("droppedReplay")} (kernel drops ${kernelDropped}), 2 initiations -> replayed_timestamp +2, 1 response ignored`);
    }, 60_000);
  });
}
