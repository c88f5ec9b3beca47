/**
 * Runs the built `taltun up` inside a lab namespace from a TOML file written the way a user
 * writes one, with the private key in a 0600 file.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, type LabProcess, waitFor } from "./netns.js";

/** The built CLI, as `pnpm taltun` runs it. */
export const TALTUN_CLI = new URL("../../packages/cli/dist/main.js", import.meta.url).pathname;

/** One `[[peers]]` entry. */
export interface TaltunPeer {
  vip: string;
  publicKey: string;
  endpoint?: string;
  allowedIps?: string[];
  persistentKeepalive?: number;
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
 * The lab ends the process by its PID.
 */
export async function startTaltun(lab: Lab, ns: string, spec: TaltunSpec, extraArgs: string[] = []): Promise<LabProcess> {
  const proc = lab.spawn(ns, ["node", TALTUN_CLI, "up", writeTaltunConfig(lab, spec), ...extraArgs]);
  await waitFor(`taltun ${spec.tunName} to come up`, 10_000, () => {
    if (proc.child.exitCode !== null) throw new Error(`taltun up exited ${proc.child.exitCode}: ${proc.output()}`);
    return existsSync(`/var/run/wireguard/${spec.tunName}.sock`) ? true : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n--- taltun output ---\n${proc.output()}`);
  });
  return proc;
}
