/**
 * What happened to handshake messages, whoever handled them: the workers' gate
 * (handshake-guard.ts) and the control plane (device/handshake.ts) reject for the same
 * reasons and both send cookie replies, and `taltun show` and the metrics report one total
 * per reason. Drops that are not a verdict on a message (a full ring, a wrong size) stay
 * with the data plane's drops.
 * @module
 */
import type { StatName } from "../dataplane/stats.js";
import type { HandshakeErrorCode } from "../protocol/errors.js";

/** The workers' counters of rejected handshake messages, by the reason the control plane names the same verdict. */
export const WORKER_REJECTIONS: ReadonlyArray<readonly [HandshakeErrorCode, StatName]> = [
  ["bad-mac1", "rejectedBadMac1"],
  ["unknown-index", "rejectedUnknownIndex"],
  ["flood", "rejectedRateLimit"],
  ["no-private-key", "rejectedNoKey"],
];

/** Reasons a handshake message is rejected, reported at 0 from the start (a new reason still counts). */
export const REJECT_REASONS: readonly HandshakeErrorCode[] = [
  "bad-size", "bad-type", "bad-mac1", "unknown-peer", "unknown-index", "decrypt-failed", "replayed-timestamp", "flood", "bad-dh",
  "no-private-key", "wrong-state",
];

/** The control plane's own counts (Device.handshakeCounts). */
export interface ControlPlaneCounts {
  rejected: Partial<Record<HandshakeErrorCode, number>>;
  cookieReplies: number;
}

/** Both planes' counts, summed. */
export interface HandshakeTotals {
  /** Rejected handshake messages by reason (`bad_mac1`, `flood`, ...: underscores, as the metrics label them). */
  rejected: Record<string, number>;
  /** Cookie replies sent, by the workers and by the control plane. */
  cookieReplies: number;
}

/** Sums the control plane's `counts` and the workers' counters `workers`. */
export function handshakeTotals(counts: ControlPlaneCounts, workers: Record<StatName, number>): HandshakeTotals {
  const byCode = new Map<string, number>(REJECT_REASONS.map((r) => [r, 0]));
  for (const [code, n] of Object.entries(counts.rejected)) byCode.set(code, (byCode.get(code) ?? 0) + (n ?? 0));
  for (const [code, stat] of WORKER_REJECTIONS) byCode.set(code, (byCode.get(code) ?? 0) + workers[stat]);
  const rejected = Object.fromEntries([...byCode].map(([code, n]) => [code.replace(/-/g, "_"), n]));
  return { rejected, cookieReplies: counts.cookieReplies + workers.cookieReplies };
}

/**
 * The totals as `get=taltun` lines carry them (flat numbers): `handshakes.rejected.<reason>`,
 * `handshakes.cookieReplies`, `handshakes.underLoad` (1 or 0).
 */
export function flatHandshakeTotals(t: HandshakeTotals, underLoad: boolean): Record<string, number> {
  const out: Record<string, number> = { "handshakes.cookieReplies": t.cookieReplies, "handshakes.underLoad": underLoad ? 1 : 0 };
  for (const [reason, n] of Object.entries(t.rejected)) out[`handshakes.rejected.${reason}`] = n;
  return out;
}
