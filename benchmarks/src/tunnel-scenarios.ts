/** Taltun's pairings for the end-to-end benchmark (tunnel.ts measures them beside the baselines). */
import { startTaltun, taltunPair } from "@taltun/e2e/taltun";
import { startWireguardGo, wgKeyPair } from "@taltun/e2e/wireguard-go";
import type { Scenario } from "./tunnel.js";

const hubSpec = (privateKey: string, spokeKey: string, tunName: string) => ({
  mode: "server" as const,
  tunName,
  localAddr: "0.0.0.0:51820",
  vip: "100.64.20.1/24",
  privateKey,
  peers: [{ vip: "100.64.20.2", publicKey: spokeKey }],
});

export const tunnelScenarios: Scenario[] = [
  {
    name: "taltun <-> taltun",
    async setup(lab, a, b) {
      const pair = await taltunPair(lab, a, b, 20);
      return { target: pair.hubVip, pids: [pair.hub.child.pid ?? 0, pair.spoke.child.pid ?? 0] };
    },
  },
  {
    name: "taltun hub <-> wireguard-go spoke",
    async setup(lab, a, b) {
      const ka = wgKeyPair();
      const kb = wgKeyPair();
      const pa = await startTaltun(lab, a, hubSpec(ka.privateKey, kb.publicKey, `bth${lab.tag}`.slice(0, 15)));
      const pb = await startWireguardGo(lab, b, {
        ifname: `bws${lab.tag}`.slice(0, 15),
        privateKey: kb.privateKey,
        address: "100.64.20.2/24",
        peers: [{ publicKey: ka.publicKey, endpoint: "198.18.20.1:51820", allowedIps: ["100.64.20.0/24"] }],
      });
      return { target: "100.64.20.1", pids: [pa.child.pid ?? 0, pb.child.pid ?? 0] };
    },
  },
];
