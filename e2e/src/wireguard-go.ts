/**
 * Runs Debian's stock `wireguard-go`, configured with `wg setconf`, inside a lab namespace:
 * the reference peer every interoperability test is proven against.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, type LabProcess, run, waitFor } from "./netns.js";

/** A WireGuard key pair as `wg genkey` / `wg pubkey` print them. */
export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** Generates a key pair with the real `wg` tool. */
export function wgKeyPair(): KeyPair {
  const privateKey = run("wg", ["genkey"]).trim();
  return { privateKey, publicKey: run("wg", ["pubkey"], privateKey).trim() };
}

/** One `[Peer]` of a wireguard-go interface. */
export interface WgPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}

/** What a wireguard-go interface in a lab namespace is made of. */
export interface WgInterface {
  /** The wireguard-go executable (default: Debian's `wireguard-go` on the PATH). */
  binary?: string;
  ifname: string;
  privateKey: string;
  listenPort?: number;
  /** Tunnel address with prefix, e.g. 100.64.0.3/24. */
  address: string;
  peers: WgPeer[];
}

function setconf(spec: WgInterface): string {
  const lines = ["[Interface]", `PrivateKey = ${spec.privateKey}`];
  if (spec.listenPort) lines.push(`ListenPort = ${spec.listenPort}`);
  for (const p of spec.peers) {
    lines.push("", "[Peer]", `PublicKey = ${p.publicKey}`, `AllowedIPs = ${p.allowedIps.join(", ")}`);
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`);
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Starts wireguard-go in `ns`, applies `spec` with `wg setconf`, adds the address and routes
 * for the peers' allowed IPs, and brings the link up. The lab ends the process by its PID.
 */
export async function startWireguardGo(lab: Lab, ns: string, spec: WgInterface): Promise<LabProcess> {
  const proc = lab.spawn(ns, [spec.binary ?? "wireguard-go", "-f", spec.ifname], { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" });
  lab.afterExit(() => rmSync(`/var/run/wireguard/${spec.ifname}.sock`, { force: true }));
  await waitFor(`wireguard-go ${spec.ifname} UAPI socket`, 5000, () =>
    existsSync(`/var/run/wireguard/${spec.ifname}.sock`) ? true : undefined,
  );
  // A file, not /dev/stdin: node's stdio pipes are sockets, which fopen(3) cannot open.
  const conf = join(lab.dir, `${spec.ifname}.conf`);
  writeFileSync(conf, setconf(spec), { mode: 0o600 });
  lab.exec(ns, ["wg", "setconf", spec.ifname, conf]);
  lab.exec(ns, ["ip", "addr", "add", spec.address, "dev", spec.ifname]);
  lab.exec(ns, ["ip", "link", "set", spec.ifname, "up"]);
  for (const p of spec.peers) {
    for (const cidr of p.allowedIps) {
      if (!cidr.endsWith("/32")) lab.exec(ns, ["ip", "route", "replace", cidr, "dev", spec.ifname]);
    }
  }
  return proc;
}

/** The latest-handshake time of every peer of a wireguard-go interface, by public key. */
export function wgLatestHandshakes(lab: Lab, ns: string, ifname: string): Map<string, number> {
  const out = lab.exec(ns, ["wg", "show", ifname, "latest-handshakes"]);
  const result = new Map<string, number>();
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [key, when] = line.split("\t");
    result.set(key, Number(when));
  }
  return result;
}
