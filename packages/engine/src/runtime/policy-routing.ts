/**
 * A full tunnel, the way wg-quick makes one: when a peer's allowed IPs hold a default route
 * (0.0.0.0/0 or ::/0), everything goes into the tunnel except the tunnel's own datagrams.
 * They carry a firewall mark (SO_MARK on every socket); a rule sends unmarked packets to a
 * table whose default route is the tunnel, and another keeps the main table's more specific
 * routes (suppress_prefixlength 0), so the local network still works. The rules are taken
 * away again when the interface stops.
 *
 * With everything routed into the tunnel, the tunnel's own address must not be reachable
 * from the local network: Linux accepts a packet for any local address on any interface,
 * and the reply would go back through the tunnel, so a neighbour could probe or reach
 * services bound to the tunnel address. An nftables table (as wg-quick adds) drops such
 * packets before routing, and keeps the tunnel datagrams' mark across their connection so
 * that reverse-path filtering (with src_valid_mark) accepts the replies.
 * @module
 */
import { execFileSync } from "node:child_process";
import type { Logger } from "../log/log.js";

/** wg-quick's mark and table number: 0xca6c. */
export const FULL_TUNNEL_MARK = 51820;

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
}

function nft(script: string): void {
  execFileSync("nft", ["-f", "-"], { input: script, stdio: ["pipe", "ignore", "pipe"], timeout: 10_000 });
}

/** The nftables table of interface `tunName`'s full tunnel. */
export function fullTunnelTable(tunName: string): string {
  return `taltun-${tunName}`;
}

/**
 * The nftables script of the full tunnel's guard: drop packets to `addr` (the tunnel's own
 * address, family `f`) that arrive on another interface from a source that is not local,
 * and carry `mark` from the tunnel's UDP packets to their connection and back to replies.
 */
export function guardScript(tunName: string, f: 4 | 6, addr: string | null, mark: number): string {
  const family = f === 4 ? "ip" : "ip6";
  const t = `${family} ${fullTunnelTable(tunName)}`;
  const lines = [
    `add table ${t}`,
    `add chain ${t} preraw { type filter hook prerouting priority -300; }`,
    `add chain ${t} premangle { type filter hook prerouting priority -150; }`,
    `add chain ${t} postmangle { type filter hook postrouting priority -150; }`,
    `add rule ${t} premangle meta l4proto udp meta mark set ct mark`,
    `add rule ${t} postmangle meta l4proto udp meta mark ${mark} ct mark set meta mark`,
  ];
  if (addr) lines.push(`add rule ${t} preraw iifname != "${tunName}" ${family} daddr ${addr} fib saddr type != local drop`);
  return lines.join("\n") + "\n";
}

/**
 * Routes all of `families` through `tunName` except packets marked `mark`; returns what
 * undoes it. On failure, undoes what it did and throws.
 */
export function fullTunnel(tunName: string, families: readonly (4 | 6)[], mark: number, address: string | null, logger: Logger): () => void {
  const undo: string[][] = [];
  const unwind = () => {
    for (const args of undo.splice(0).reverse()) {
      try {
        if (args[0] === "nft") nft(args[1]);
        else ip(args);
      } catch (e) {
        logger.warn("could not remove a full-tunnel rule", { rule: args.join(" "), error: (e as Error).message });
      }
    }
  };
  // The guard covers the family of the interface's address; the other family has none to guard.
  const own = address?.split("/")[0] ?? null;
  const ownFamily = own === null ? 0 : own.includes(":") ? 6 : 4;
  try {
    for (const f of families) {
      const v = `-${f}`;
      const table = String(mark);
      ip([v, "route", "add", "default", "dev", tunName, "table", table]);
      undo.push([v, "route", "del", "default", "dev", tunName, "table", table]);
      ip([v, "rule", "add", "not", "fwmark", table, "table", table]);
      undo.push([v, "rule", "del", "not", "fwmark", table, "table", table]);
      ip([v, "rule", "add", "table", "main", "suppress_prefixlength", "0"]);
      undo.push([v, "rule", "del", "table", "main", "suppress_prefixlength", "0"]);
      nft(guardScript(tunName, f, ownFamily === f ? own : null, mark));
      undo.push(["nft", `delete table ${f === 4 ? "ip" : "ip6"} ${fullTunnelTable(tunName)}\n`]);
    }
    if (families.includes(4)) execFileSync("sysctl", ["-q", "-w", "net.ipv4.conf.all.src_valid_mark=1"], { stdio: "ignore", timeout: 10_000 });
  } catch (e) {
    unwind();
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot route everything through ${tunName}: ${stderr || (e as Error).message}`, { cause: e });
  }
  logger.info("full tunnel: everything but the tunnel's own packets goes through it", { families: families.join(","), fwmark: mark });
  return unwind;
}
