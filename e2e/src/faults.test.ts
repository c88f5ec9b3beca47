/**
 * Faults on the way (issue 12), and what they cost: a lossy, delayed underlay (through a
 * user-space relay: this kernel has no sch_netem), the underlay link going down and up,
 * and a spoke or the hub killed with SIGKILL and started again. Transfers complete with
 * matching checksums; recovery times are measured next to wireguard-go's in the same setup
 * and printed. A restarted hub gets its spokes back when their keepalive finds no session
 * and their handshake retries (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT), as with wireguard-go.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun, type TaltunSpec } from "./taltun.js";
import { startTransfer, verifiedTransfer } from "./transfer.js";
import { startWireguardGo, type WgInterface, wgKeyPair } from "./wireguard-go.js";

const RELAY = new URL("./lossy-relay.mjs", import.meta.url).pathname;

/** Milliseconds until one ping from `ns` to `addr` comes back (bounded by `ms`). */
async function recovery(lab: Lab, ns: string, addr: string, ms: number): Promise<number> {
  const started = Date.now();
  await waitFor(`${addr} from ${ns}`, ms, () => {
    try {
      return lab.exec(ns, ["ping", "-c", "1", "-W", "1", addr]).includes(" 1 received") ? true : undefined;
    } catch {
      return undefined;
    }
  });
  return Date.now() - started;
}

describe("a lossy, delayed underlay", () => {
  const lab = new Lab("ls");
  const [hk, sk] = [wgKeyPair(), wgKeyPair()];
  let hub = "", mid = "", spoke = "";

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    mid = lab.netns("mid");
    spoke = lab.netns("spoke");
    lab.link(hub, "198.18.150.1/24", mid, "198.18.150.254/24", ["vh", "veth0"]);
    lab.link(mid, "198.18.151.254/24", spoke, "198.18.151.2/24", ["vs", "veth0"]);
    await startTaltun(lab, hub, {
      mode: "server", tunName: `h${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:51820", vip: "100.64.150.1/24", privateKey: hk.privateKey,
      peers: [{ vip: "100.64.150.2", publicKey: sk.publicKey }],
    });
  });
  afterAll(() => lab.close());

  it("carries a verified TCP transfer through 3% loss and 20 ms of delay each way", async () => {
    const relay = lab.spawn(mid, ["node", RELAY, "198.18.151.254", "51820", "198.18.150.1", "51820", "0.03", "20", "60"]);
    await waitFor("the relay", 5000, () => (relay.output().includes("listening") ? true : undefined));
    await startTaltun(lab, spoke, {
      mode: "client", tunName: `s${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:0", vip: "100.64.150.2/24", privateKey: sk.privateKey,
      peers: [{ vip: "100.64.150.1", publicKey: hk.publicKey, endpoint: "198.18.151.254:51820", allowedIps: ["100.64.150.0/24"] }],
    });
    await recovery(lab, spoke, "100.64.150.1", 20_000);
    const t = await verifiedTransfer(lab, hub, spoke, "100.64.150.1", 2 << 20);
    expect(t.received).toBe(t.sent);
    relay.child.kill("SIGTERM");
    await relay.exited;
    const counts = JSON.parse(relay.output().trim().split("\n").pop()!) as { forwarded: number; dropped: number };
    expect(counts.dropped).toBeGreaterThan(0); // the loss was real
  });
});

/** A hub and a spoke of one implementation, the spoke with a 1 s persistent keepalive. */
interface Pair {
  startHub(): Promise<LabProcess>;
  startSpoke(): Promise<LabProcess>;
}

describe("killed and restarted, next to wireguard-go", () => {
  const lab = new Lab("kr");
  const times: Record<string, Record<string, number>> = {};

  function pair(kind: "taltun" | "wireguard-go", net: number): { hub: string; spoke: string; hubIf: string; spokeIf: string; p: Pair } {
    const hub = lab.netns(`${kind[0]}h`);
    const spoke = lab.netns(`${kind[0]}s`);
    lab.link(hub, `198.18.${net}.1/24`, spoke, `198.18.${net}.2/24`);
    const [hk, sk] = [wgKeyPair(), wgKeyPair()];
    const hubIf = `${kind[0]}h${lab.tag}`.slice(0, 15);
    const spokeIf = `${kind[0]}s${lab.tag}`.slice(0, 15);
    if (kind === "taltun") {
      const hubSpec: TaltunSpec = {
        mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `100.64.${net}.1/24`, privateKey: hk.privateKey,
        peers: [{ vip: `100.64.${net}.2`, publicKey: sk.publicKey }],
      };
      const spokeSpec: TaltunSpec = {
        mode: "client", tunName: spokeIf, localAddr: "0.0.0.0:0", vip: `100.64.${net}.2/24`, privateKey: sk.privateKey,
        peers: [{ vip: `100.64.${net}.1`, publicKey: hk.publicKey, endpoint: `198.18.${net}.1:51820`, allowedIps: [`100.64.${net}.0/24`], persistentKeepalive: 1 }],
      };
      return { hub, spoke, hubIf, spokeIf, p: { startHub: () => startTaltun(lab, hub, hubSpec), startSpoke: () => startTaltun(lab, spoke, spokeSpec) } };
    }
    const hubSpec: WgInterface = { ifname: hubIf, privateKey: hk.privateKey, listenPort: 51820, address: `100.64.${net}.1/24`, peers: [{ publicKey: sk.publicKey, allowedIps: [`100.64.${net}.2/32`] }] };
    const spokeSpec: WgInterface = {
      ifname: spokeIf, privateKey: sk.privateKey, address: `100.64.${net}.2/24`,
      peers: [{ publicKey: hk.publicKey, allowedIps: [`100.64.${net}.0/24`], endpoint: `198.18.${net}.1:51820`, persistentKeepalive: 1 }],
    };
    return { hub, spoke, hubIf, spokeIf, p: { startHub: () => startWireguardGo(lab, hub, hubSpec), startSpoke: () => startWireguardGo(lab, spoke, spokeSpec) } };
  }

  beforeAll(() => requireLabPreconditions());
  afterAll(async () => {
    console.log(`recovery times, ms: ${JSON.stringify(times)}`);
    await lab.close();
  });

  for (const [kind, net] of [["taltun", 160], ["wireguard-go", 161]] as const) {
    it(`${kind}: recovers from a spoke and a hub killed with SIGKILL, and from the link going down and up`, async () => {
      const { hub, spoke, hubIf, spokeIf, p } = pair(kind, net);
      const hubVip = `100.64.${net}.1`;
      const hubProc = await p.startHub();
      const spokeProc = await p.startSpoke();
      lab.afterExit(() => [hubIf, spokeIf].forEach((i) => rmSync(`/var/run/wireguard/${i}.sock`, { force: true })));
      await recovery(lab, spoke, hubVip, 15_000);
      const t: Record<string, number> = {};

      // A killed process leaves its UAPI socket behind: clear it as an init system would.
      const forget = (ifname: string) => rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
      spokeProc.child.kill("SIGKILL");
      await spokeProc.exited;
      forget(spokeIf);
      await p.startSpoke(); // the lab ends it
      t.spokeRestart = await recovery(lab, spoke, hubVip, 20_000);

      hubProc.child.kill("SIGKILL");
      await hubProc.exited;
      forget(hubIf);
      await p.startHub();
      t.hubRestart = await recovery(lab, spoke, hubVip, 40_000);

      // The link goes down for 2 s in the middle of a transfer, which completes intact.
      const transfer = await startTransfer(lab, hub, spoke, hubVip, 8 << 20, 5211);
      lab.exec(spoke, ["ip", "link", "set", "veth0", "down"]);
      await new Promise((r) => setTimeout(r, 2000));
      lab.exec(spoke, ["ip", "link", "set", "veth0", "up"]);
      const result = await transfer;
      expect(result.received).toBe(result.sent);
      times[kind] = t;
      expect(t.spokeRestart).toBeLessThan(20_000);
      expect(t.hubRestart).toBeLessThan(40_000);
    }, 150_000);
  }
});
