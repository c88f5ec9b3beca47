/**
 * The pairings `bench:e2e` measures. Each one sets up namespace `a` (the server side: the
 * iperf3 server, a VPN listening on 198.18.30.1:51820, tunnel address 100.64.30.1) and
 * namespace `b` (the client side: the iperf3 client, a VPN that dials `a`, 100.64.30.2),
 * already linked by a veth pair on 198.18.30.0/24. Traffic flows b -> a: the client side
 * encrypts, the server side decrypts.
 */
import type { Lab } from "@taltun/e2e/lab";
import { startTaltun } from "@taltun/e2e/taltun";
import { type KeyPair, startWireguardGo, wgKeyPair } from "@taltun/e2e/wireguard-go";

export const NET = 30;
export const SERVER_UNDERLAY = `198.18.${NET}.1`;
export const CLIENT_UNDERLAY = `198.18.${NET}.2`;
export const SERVER_VIP = `100.64.${NET}.1`;
export const CLIENT_VIP = `100.64.${NET}.2`;
const PORT = 51820;

/** What a case built: the address iperf3 and ping target, and the processes that carry the tunnel. */
export interface Tunnel {
  target: string;
  pids: number[];
}

/** Options every VPN of a run shares. */
export interface CaseOptions {
  /** Path of the upstream wireguard-go binary. */
  upstream: string;
  /** Tunnel MTU of every VPN. */
  mtu: number;
}

export interface Case {
  /** Short, stable key (JSON, SVG). */
  id: string;
  name: string;
  /** Needs the upstream wireguard-go binary. */
  upstream: boolean;
  setup(lab: Lab, a: string, b: string, o: CaseOptions): Promise<Tunnel>;
}

type Kind = "taltun" | "taltun-base" | "wg-debian" | "wg-upstream";

/**
 * Another Taltun build's CLI (its packages/cli/dist/main.js), measured beside this one in
 * the same run as the case `taltun-base`, for an A/B of a change: env TALTUN_BENCH_BASE_CLI.
 */
const BASE_CLI = process.env.TALTUN_BENCH_BASE_CLI;

interface Side {
  ns: string;
  keys: KeyPair;
  peer: KeyPair;
  ifname: string;
}

async function server(kind: Kind, lab: Lab, s: Side, o: CaseOptions): Promise<number> {
  if (kind === "taltun" || kind === "taltun-base") {
    const p = await startTaltun(lab, s.ns, {
      mode: "server",
      tunName: s.ifname,
      localAddr: `0.0.0.0:${PORT}`,
      vip: `${SERVER_VIP}/24`,
      privateKey: s.keys.privateKey,
      mtu: o.mtu,
      peers: [{ vip: CLIENT_VIP, publicKey: s.peer.publicKey }],
    }, [], kind === "taltun-base" ? BASE_CLI : undefined);
    return p.child.pid ?? 0;
  }
  const p = await startWireguardGo(lab, s.ns, {
    binary: kind === "wg-upstream" ? o.upstream : undefined,
    ifname: s.ifname,
    privateKey: s.keys.privateKey,
    listenPort: PORT,
    address: `${SERVER_VIP}/24`,
    peers: [{ publicKey: s.peer.publicKey, allowedIps: [`${CLIENT_VIP}/32`] }],
  });
  lab.exec(s.ns, ["ip", "link", "set", "dev", s.ifname, "mtu", String(o.mtu)]);
  return p.child.pid ?? 0;
}

async function client(kind: Kind, lab: Lab, s: Side, o: CaseOptions): Promise<number> {
  const endpoint = `${SERVER_UNDERLAY}:${PORT}`;
  const allowed = [`100.64.${NET}.0/24`];
  if (kind === "taltun" || kind === "taltun-base") {
    const p = await startTaltun(lab, s.ns, {
      mode: "client",
      tunName: s.ifname,
      localAddr: "0.0.0.0:0",
      vip: `${CLIENT_VIP}/24`,
      privateKey: s.keys.privateKey,
      mtu: o.mtu,
      peers: [{ vip: SERVER_VIP, publicKey: s.peer.publicKey, endpoint, allowedIps: allowed }],
    }, [], kind === "taltun-base" ? BASE_CLI : undefined);
    return p.child.pid ?? 0;
  }
  const p = await startWireguardGo(lab, s.ns, {
    binary: kind === "wg-upstream" ? o.upstream : undefined,
    ifname: s.ifname,
    privateKey: s.keys.privateKey,
    address: `${CLIENT_VIP}/24`,
    peers: [{ publicKey: s.peer.publicKey, endpoint, allowedIps: allowed }],
  });
  lab.exec(s.ns, ["ip", "link", "set", "dev", s.ifname, "mtu", String(o.mtu)]);
  return p.child.pid ?? 0;
}

/** A VPN of `serverKind` in `a` and one of `clientKind` in `b` that dials it. */
function pair(id: string, name: string, serverKind: Kind, clientKind: Kind): Case {
  return {
    id,
    name,
    upstream: serverKind === "wg-upstream" || clientKind === "wg-upstream",
    async setup(lab, a, b, o) {
      const ka = wgKeyPair();
      const kb = wgKeyPair();
      // Interface names carry the lab's tag (PID and sequence number): unique on the machine.
      const pa = await server(serverKind, lab, { ns: a, keys: ka, peer: kb, ifname: `ea${lab.tag}`.slice(0, 15) }, o);
      const pb = await client(clientKind, lab, { ns: b, keys: kb, peer: ka, ifname: `eb${lab.tag}`.slice(0, 15) }, o);
      return { target: SERVER_VIP, pids: [pa, pb] };
    },
  };
}

export const CASES: Case[] = [
  { id: "veth", name: "bare veth (limit)", upstream: false, setup: async () => ({ target: SERVER_UNDERLAY, pids: [] }) },
  pair("taltun", "Taltun <-> Taltun", "taltun", "taltun"),
  ...(BASE_CLI ? [pair("taltun-base", "Taltun base build <-> same", "taltun-base", "taltun-base")] : []),
  pair("wg-debian", "Debian wireguard-go <-> Debian wg-go", "wg-debian", "wg-debian"),
  pair("wg-upstream", "upstream wireguard-go <-> upstream", "wg-upstream", "wg-upstream"),
  pair("taltun-to-upstream", "Taltun client -> upstream server", "wg-upstream", "taltun"),
  pair("upstream-to-taltun", "upstream client -> Taltun server", "taltun", "wg-upstream"),
];

/** The reference every ratio is taken against. */
export const REFERENCE = "wg-upstream";
