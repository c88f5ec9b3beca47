/**
 * A full tunnel, the way wg-quick makes one: when a peer's allowed IPs hold a default route
 * (0.0.0.0/0 or ::/0), everything goes into the tunnel except the tunnel's own datagrams.
 * They carry a firewall mark (SO_MARK on every socket); a rule sends unmarked packets to a
 * table whose default route is the tunnel, and another keeps the main table's more specific
 * routes (suppress_prefixlength 0), so the local network still works. The rules are taken
 * away again when the interface stops.
 * @module
 */
import { execFileSync } from "node:child_process";
import type { Logger } from "../log/log.js";

/** wg-quick's mark and table number: 0xca6c. */
export const FULL_TUNNEL_MARK = 51820;

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
}

/**
 * Routes all of `families` through `tunName` except packets marked `mark`; returns what
 * undoes it. On failure, undoes what it did and throws.
 */
export function fullTunnel(tunName: string, families: readonly (4 | 6)[], mark: number, logger: Logger): () => void {
  const undo: string[][] = [];
  const unwind = () => {
    for (const args of undo.splice(0).reverse()) {
      try {
        ip(args);
      } catch (e) {
        logger.warn("could not remove a full-tunnel rule", { rule: args.join(" "), error: (e as Error).message });
      }
    }
  };
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
    }
  } catch (e) {
    unwind();
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot route everything through ${tunName}: ${stderr || (e as Error).message}`, { cause: e });
  }
  logger.info("full tunnel: everything but the tunnel's own packets goes through it", { families: families.join(","), fwmark: mark });
  return unwind;
}
