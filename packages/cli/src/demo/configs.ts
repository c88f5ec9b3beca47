/**
 * The demo's keys and configuration files: a hub (server) at 100.64.0.1 and spokes
 * (clients) at 100.64.0.2 and .3 that dial it; keys in files of mode 600 beside them.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeKey, generatePrivateKey, publicKeyFrom } from "@taltun/engine";
import { stringify } from "smol-toml";
import type { Topology } from "./topology.js";

/** The hub's UDP port. */
export const HUB_PORT = 51820;

/** One node of the demo: where it runs and what it is called. */
export interface DemoNode {
  readonly role: "hub" | "spoke";
  readonly ns: string;
  readonly tunName: string;
  /** Tunnel address without prefix. */
  readonly vip: string;
  readonly configFile: string;
  readonly publicKey: string;
}

/** Writes keys and configurations for `topology` into `dir`; returns the hub first. */
export function writeDemoConfigs(topology: Topology, id: number, dir: string): DemoNode[] {
  const keys = [0, 1, 2].map(() => generatePrivateKey());
  const pub = keys.map((k) => encodeKey(publicKeyFrom(k)));
  const names = ["hub", ...topology.spokes.map((s) => s.name)];
  const keyFile = (i: number) => {
    const f = join(dir, `${names[i]}.key`);
    writeFileSync(f, `${encodeKey(keys[i])}\n`, { mode: 0o600 });
    return f;
  };
  const vip = (i: number) => `100.64.0.${i + 1}`;
  const iface = (i: number, mode: string, localAddr?: string) => ({
    mode,
    tun_name: `tt${id}${names[i]}`.slice(0, 15),
    ...(localAddr ? { local_addr: localAddr } : {}),
    vip: `${vip(i)}/24`,
    private_key_file: keyFile(i),
    workers: 1, // three interfaces and iperf3 share the machine's cores
  });
  const hub = {
    interface: iface(0, "server", `0.0.0.0:${HUB_PORT}`),
    peers: topology.spokes.map((_, s) => ({ vip: vip(s + 1), public_key: pub[s + 1] })),
  };
  const spokes = topology.spokes.map((s, i) => ({
    interface: iface(i + 1, "client"),
    peers: [{ vip: vip(0), public_key: pub[0], endpoint: `${s.hubAddress}:${HUB_PORT}`, allowed_ips: ["100.64.0.0/24"], persistent_keepalive: 25 }],
  }));
  return [hub, ...spokes].map((cfg, i) => {
    const configFile = join(dir, `${names[i]}.toml`);
    writeFileSync(configFile, stringify(cfg) + "\n", { mode: 0o600 });
    return {
      role: i === 0 ? "hub" : "spoke",
      ns: i === 0 ? topology.hubNs : topology.spokes[i - 1].ns,
      tunName: cfg.interface.tun_name,
      vip: vip(i),
      configFile,
      publicKey: pub[i],
    };
  });
}
