/**
 * What `taltun show` prints: a running interface's state from two UAPI samples, as text
 * for people (in the manner of `wg show`) or as JSON. Private and preshared keys are never
 * part of it.
 */
import { type DeviceSnapshot, encodeKey, publicKeyFrom } from "@taltun/engine";

/**
 * One peer, with rates from two samples. Every figure names its unit: bytes, bits per
 * second (whole numbers), seconds; times are ISO 8601 in UTC.
 */
export interface PeerView {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  /** ISO time of the latest handshake, null if none yet. */
  latestHandshake: string | null;
  /** Bytes of WireGuard datagrams received from the peer / sent to it since the interface started, as `wg` counts them. */
  rxBytes: number;
  txBytes: number;
  /** Bits per second over the sampling interval (`rateIntervalSeconds`), rounded to a whole number. */
  rxBitsPerSecond: number;
  txBitsPerSecond: number;
  /** Seconds between keepalives when idle, 0: off. */
  persistentKeepaliveSeconds: number;
  hasPresharedKey: boolean;
}

/** One interface. */
export interface InterfaceView {
  interface: string;
  publicKey: string | null;
  listenPort: number;
  /** Seconds between the two samples the rates come from. */
  rateIntervalSeconds: number;
  peers: PeerView[];
  /** Taltun's data-plane counters; absent for interfaces that have none (wireguard-go). */
  dataplane?: Record<string, number>;
  /** What became of handshake messages, in the workers and the control plane together; absent as `dataplane`. */
  handshakes?: HandshakesView;
}

/** Handshake verdicts since the interface started (Taltun only). */
export interface HandshakesView {
  /** True while the interface demands MAC2 cookies (a flood of handshake messages). */
  underLoad: boolean;
  /** Cookie replies sent, by the workers and the control plane. */
  cookieRepliesSent: number;
  /** Handshake messages rejected, by reason (`bad_mac1`, `unknown_index`, `flood`, `unknown_peer`, ...). */
  rejected: Record<string, number>;
}

const HANDSHAKES = "handshakes.";
const REJECTED = "handshakes.rejected.";

/** Splits `get=taltun` counters into the data plane's and the handshake verdicts. */
export function splitCounters(counters: Record<string, number>): { dataplane: Record<string, number>; handshakes?: HandshakesView } {
  const dataplane: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters)) {
    if (k.startsWith(REJECTED)) rejected[k.slice(REJECTED.length)] = v;
    else if (!k.startsWith(HANDSHAKES)) dataplane[k] = v;
  }
  if (!(`${HANDSHAKES}cookieReplies` in counters)) return { dataplane };
  return { dataplane, handshakes: { underLoad: counters[`${HANDSHAKES}underLoad`] === 1, cookieRepliesSent: counters[`${HANDSHAKES}cookieReplies`], rejected } };
}

/** Builds the view of an interface from a sample `before` and one `after`, `seconds` apart. */
export function viewOf(iface: string, before: DeviceSnapshot, after: DeviceSnapshot, seconds: number): InterfaceView {
  const prev = new Map(before.peers.map((p) => [encodeKey(p.publicKey), p]));
  const rate = (now: number, then: number | undefined) => (then === undefined || now < then || seconds <= 0 ? 0 : Math.round(((now - then) * 8) / seconds));
  return {
    interface: iface,
    publicKey: after.privateKey ? encodeKey(publicKeyFrom(after.privateKey)) : null,
    listenPort: after.listenPort,
    rateIntervalSeconds: Math.round(seconds * 1000) / 1000,
    peers: after.peers.map((p) => {
      const key = encodeKey(p.publicKey);
      const old = prev.get(key);
      return {
        publicKey: key,
        endpoint: p.endpoint,
        allowedIps: [...p.allowedIps],
        latestHandshake: p.lastHandshakeMs ? new Date(p.lastHandshakeMs).toISOString() : null,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        rxBitsPerSecond: rate(p.rxBytes, old?.rxBytes),
        txBitsPerSecond: rate(p.txBytes, old?.txBytes),
        persistentKeepaliveSeconds: p.persistentKeepalive,
        hasPresharedKey: p.presharedKey !== null,
      };
    }),
  };
}

/** "1 hour, 2 minutes, 3 seconds ago", "Now" — the way wg words it. */
export function ago(thenMs: number, nowMs = Date.now()): string {
  let s = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (s === 0) return "Now";
  const parts: string[] = [];
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
  }
  return `${parts.join(", ")} ago`;
}

/** Bytes in binary units: "1.21 KiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
  return i === 0 ? `${n} B` : `${n.toFixed(2)} ${units[i]}`;
}

/** A bit rate in SI units: "12.3 Mbit/s". */
export function bitRate(bps: number): string {
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let i = 0;
  while (bps >= 1000 && i < units.length - 1) [bps, i] = [bps / 1000, i + 1];
  return i === 0 ? `${Math.round(bps)} bit/s` : `${bps.toFixed(1)} ${units[i]}`;
}

/** The text form of one interface. */
export function formatView(v: InterfaceView, nowMs = Date.now()): string {
  const out = [`interface: ${v.interface}`];
  if (v.publicKey) out.push(`  public key: ${v.publicKey}`);
  out.push(`  listening port: ${v.listenPort}`);
  for (const p of v.peers) {
    out.push("", `peer: ${p.publicKey}`);
    if (p.hasPresharedKey) out.push("  preshared key: (hidden)");
    out.push(`  endpoint: ${p.endpoint ?? "(none)"}`);
    out.push(`  allowed ips: ${p.allowedIps.join(", ") || "(none)"}`);
    out.push(`  latest handshake: ${p.latestHandshake ? ago(Date.parse(p.latestHandshake), nowMs) : "never"}`);
    out.push(`  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
    out.push(`  rate: ${bitRate(p.rxBitsPerSecond)} received, ${bitRate(p.txBitsPerSecond)} sent (over ${v.rateIntervalSeconds.toFixed(1)} s)`);
    if (p.persistentKeepaliveSeconds) out.push(`  persistent keepalive: every ${p.persistentKeepaliveSeconds} seconds`);
  }
  const d = v.dataplane;
  if (d) {
    out.push(
      "",
      `data plane (packet counts since start): ${d.udpDatagrams} datagrams in, ${d.sent + d.relayed} out (${d.relayed} relayed), ${d.staged} held for a handshake, ${d.handshakeMessages} handshake messages`,
      `  received and dropped: ${d.droppedShort} too short, ${d.droppedType} not WireGuard, ${d.droppedNoKeypair} unknown or expired session, ` +
        `${d.droppedCounterLimit} at the counter limit, ${d.droppedAuth} failed authentication, ${d.droppedReplay} replayed, ` +
        `${d.droppedMalformed} not an IP packet, ${d.droppedSource} from a source the peer may not use`,
      `  other drops: ${d.droppedNoRoute} without a route, ${d.droppedNoSession} waited for a session in vain, ${d.droppedNoEndpoint} without an endpoint, ` +
        `${d.droppedRingFull} handshakes over capacity, ${d.droppedHandshakeSize} handshakes of the wrong size, ${d.droppedTruncated ?? 0} cut short`,
      `  UDP offload: ${d.groTrains ?? 0} GRO trains received, ${d.gsoFallbacks ?? 0} GSO sends refused and sent packet by packet`,
    );
  }
  const h = v.handshakes;
  if (h) {
    const reasons = Object.entries(h.rejected).filter(([, n]) => n > 0);
    out.push(
      `handshakes: ${h.underLoad ? "under load (cookies demanded)" : "not under load"}, ${h.cookieRepliesSent} cookie replies sent, ` +
        `rejected: ${reasons.length ? reasons.map(([r, n]) => `${n} ${r}`).join(", ") : "none"}`,
    );
  }
  return out.join("\n") + "\n";
}
