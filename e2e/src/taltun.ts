/**
 * Runs the built `taltun up` inside a lab namespace from a TOML file written the way a user
 * writes one, with the private key in a 0600 file.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, type LabProcess, waitFor } from "./netns.js";
import { pingOk } from "./transfer.js";
import { type KeyPair, wgKeyPair } from "./wireguard-go.js";

/**
 * The built CLI, as `pnpm taltun` runs it; `TALTUN_CLI` points at another build (the
 * benchmarks compare an older Taltun with this one through the same harness).
 */
export const TALTUN_CLI = process.env.TALTUN_CLI || new URL("../../packages/cli/dist/main.js", import.meta.url).pathname;
/** The built `taltun-wg` (wireguard-go's command line), an executable script. */
export const TALTUN_WG = new URL("../../packages/cli/dist/wg.js", import.meta.url).pathname;

/** One `[[peers]]` entry. */
export interface TaltunPeer {
  vip: string;
  publicKey: string;
  endpoint?: string;
  allowedIps?: string[];
  persistentKeepalive?: number;
  /** The peer's `name` (metrics label). */
  name?: string;
}

/** The `[interface]` table and its peers. */
export interface TaltunSpec {
  mode: "server" | "client";
  tunName: string;
  localAddr: string;
  vip: string;
  privateKey: string;
  mtu?: number;
  workers?: number;
  routes?: string[];
  peers: TaltunPeer[];
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;

/** The TOML text of `spec`, with the key read from `keyFile`. */
export function taltunToml(spec: TaltunSpec, keyFile: string): string {
  const lines = [
    "[interface]",
    `mode = ${q(spec.mode)}`,
    `tun_name = ${q(spec.tunName)}`,
    `local_addr = ${q(spec.localAddr)}`,
    `vip = ${q(spec.vip)}`,
    `private_key_file = ${q(keyFile)}`,
  ];
  if (spec.mtu) lines.push(`mtu = ${spec.mtu}`);
  if (spec.workers) lines.push(`workers = ${spec.workers}`);
  if (spec.routes) lines.push(`routes = ${list(spec.routes)}`);
  for (const p of spec.peers) {
    lines.push("", "[[peers]]", `vip = ${q(p.vip)}`, `public_key = ${q(p.publicKey)}`);
    if (p.endpoint) lines.push(`endpoint = ${q(p.endpoint)}`);
    if (p.allowedIps) lines.push(`allowed_ips = ${list(p.allowedIps)}`);
    if (p.persistentKeepalive) lines.push(`persistent_keepalive = ${p.persistentKeepalive}`);
    if (p.name) lines.push(`name = ${q(p.name)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Writes the configuration into the lab's folder and returns its path. */
export function writeTaltunConfig(lab: Lab, spec: TaltunSpec): string {
  const keyFile = join(lab.dir, `${spec.tunName}.key`);
  writeFileSync(keyFile, `${spec.privateKey}\n`, { mode: 0o600 });
  const file = join(lab.dir, `${spec.tunName}.toml`);
  writeFileSync(file, taltunToml(spec, keyFile));
  return file;
}

/**
 * Starts `taltun up` in `ns` and waits until its interface answers on the UAPI socket.
 * The lab ends the process by its PID. `cli`: another build's main.js (an A/B benchmark).
 */
export async function startTaltun(lab: Lab, ns: string, spec: TaltunSpec, extraArgs: string[] = [], cli = TALTUN_CLI): Promise<LabProcess> {
  const proc = lab.spawn(ns, ["node", cli, "up", writeTaltunConfig(lab, spec), ...extraArgs]);
  // A process that had to be killed cannot remove its pid file and UAPI socket.
  lab.afterExit(() => {
    for (const f of [`/var/run/taltun/${spec.tunName}.pid`, `/var/run/wireguard/${spec.tunName}.sock`]) rmSync(f, { force: true });
  });
  await waitFor(`taltun ${spec.tunName} to come up`, 10_000, () => {
    if (proc.child.exitCode !== null) throw new Error(`taltun up exited ${proc.child.exitCode}: ${proc.output()}`);
    return existsSync(`/var/run/wireguard/${spec.tunName}.sock`) ? true : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n--- taltun output ---\n${proc.output()}`);
  });
  return proc;
}

/** A Taltun server and a Taltun client that dials it, as {@link taltunPair} starts them. */
export interface TaltunPair {
  hub: LabProcess;
  spoke: LabProcess;
  hubIf: string;
  spokeIf: string;
  hubKeys: KeyPair;
  spokeKeys: KeyPair;
  /** Tunnel addresses, 100.64.<net>.1 and .2. */
  hubVip: string;
  spokeVip: string;
}

/**
 * Starts a Taltun server in `hubNs` (198.18.<net>.1, port 51820, tunnel 100.64.<net>.1/24)
 * and a Taltun client in `spokeNs` that dials it; the two namespaces must already be linked
 * on 198.18.<net>.0/24. `hubEndpoint` replaces the address the client dials (a host name);
 * `mtu` sets both tunnels' MTU.
 */
export async function taltunPair(lab: Lab, hubNs: string, spokeNs: string, net: number, hubEndpoint?: string, mtu?: number): Promise<TaltunPair> {
  const hubKeys = wgKeyPair();
  const spokeKeys = wgKeyPair();
  const hubIf = `h${net}${lab.tag}`.slice(0, 15);
  const spokeIf = `s${net}${lab.tag}`.slice(0, 15);
  const hubVip = `100.64.${net}.1`;
  const spokeVip = `100.64.${net}.2`;
  const hub = await startTaltun(lab, hubNs, {
    mode: "server",
    tunName: hubIf,
    localAddr: "0.0.0.0:51820",
    vip: `${hubVip}/24`,
    privateKey: hubKeys.privateKey,
    mtu,
    peers: [{ vip: spokeVip, publicKey: spokeKeys.publicKey }],
  });
  const spoke = await startTaltun(lab, spokeNs, {
    mode: "client",
    tunName: spokeIf,
    localAddr: "0.0.0.0:0",
    vip: `${spokeVip}/24`,
    privateKey: spokeKeys.privateKey,
    mtu,
    peers: [{ vip: hubVip, publicKey: hubKeys.publicKey, endpoint: hubEndpoint ?? `198.18.${net}.1:51820`, allowedIps: [`100.64.${net}.0/24`] }],
  });
  return { hub, spoke, hubIf, spokeIf, hubKeys, spokeKeys, hubVip, spokeVip };
}

/** A Taltun hub and its spokes, as {@link taltunHub} starts them. */
export interface TaltunHub {
  hub: string;
  hubIf: string;
  hubKeys: KeyPair;
  /** 100.64.<net>.1 */
  hubVip: string;
  /** The hub's `taltun up`. */
  hubProcess: LabProcess;
  spokes: { ns: string; tunName: string; vip: string; keys: KeyPair; process: LabProcess }[];
}

/**
 * A Taltun server in its own namespace with `count` Taltun clients, each in a namespace
 * linked to the hub on 198.18.<net>.(4i+1)/30 and .(4i+2)/30, tunnel addresses
 * 100.64.<net>.1 (hub) and 100.64.<net>.(10+i) (spoke i); the spokes route the whole
 * 100.64.<net>.0/24 through the hub, so spoke-to-spoke traffic is relayed by it.
 * Resolves once every spoke's first ping to the hub has come back. `hubArgs` are passed to
 * the hub's `taltun up` (e.g. `--metrics-addr`).
 */
export async function taltunHub(lab: Lab, net: number, count: number, hubArgs: string[] = []): Promise<TaltunHub> {
  const hub = lab.netns("hub");
  const hubKeys = wgKeyPair();
  const hubIf = `h${net}${lab.tag}`.slice(0, 15);
  const hubVip = `100.64.${net}.1`;
  const spokes = Array.from({ length: count }, (_, i) => {
    const ns = lab.netns(`s${i}`);
    lab.link(hub, `198.18.${net}.${4 * i + 1}/30`, ns, `198.18.${net}.${4 * i + 2}/30`, [`vs${i}`, "veth0"]);
    return { ns, tunName: `s${i}${net}${lab.tag}`.slice(0, 15), vip: `100.64.${net}.${10 + i}`, keys: wgKeyPair() };
  });
  const hubProcess = await startTaltun(lab, hub, {
    mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `${hubVip}/24`, privateKey: hubKeys.privateKey,
    peers: spokes.map((s) => ({ vip: s.vip, publicKey: s.keys.publicKey })),
  }, hubArgs);
  const started = [];
  for (const [i, s] of spokes.entries()) {
    const process = await startTaltun(lab, s.ns, {
      mode: "client", tunName: s.tunName, localAddr: "0.0.0.0:0", vip: `${s.vip}/24`, privateKey: s.keys.privateKey,
      peers: [{ vip: hubVip, publicKey: hubKeys.publicKey, endpoint: `198.18.${net}.${4 * i + 1}:51820`, allowedIps: [`100.64.${net}.0/24`] }],
    });
    started.push({ ...s, process });
  }
  for (const s of started) await pingOk(lab, s.ns, hubVip, 1);
  return { hub, hubIf, hubKeys, hubVip, hubProcess, spokes: started };
}
