/**
 * Prometheus metrics of a running interface (`metrics_addr`, `taltun up --metrics-addr`,
 * `TALTUN_METRICS_ADDR` of `taltun-wg`), built with prom-client; metrics-server.ts serves
 * them on HTTP at `GET /metrics`, serve-metrics.ts wires them to a launched interface.
 *
 * Every value is read when a scrape asks for it, in prom-client's `collect()` callbacks:
 * the data-plane counters are Atomics in the shared memory, so a scrape loads them on the
 * main thread and never waits for, locks or wakes a worker. One scrape reads one sample
 * (the peers and every worker's counters once), shared by all its metrics. What the data
 * plane does not count (handshakes completed, failed and rejected, cookie replies) is
 * counted here from the control loop's actions ({@link InterfaceMetrics.observe}).
 *
 * The shared counters are 32-bit words that wrap (packets per peer, the workers'
 * counters); each scrape adds what a word moved since the last one, modulo 2^32, so the
 * exported counters are exact as long as scrapes come more often than a word wraps (at a
 * million packets a second, every 71 minutes). Byte counters are 64-bit already.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { STAT_NAMES, type StatName } from "../dataplane/stats.js";
import type { DeviceAction } from "../device/device.js";
import { type ControlPlaneCounts, handshakeTotals } from "./handshake-counts.js";

/** One peer as the metrics see it. */
export interface MetricsPeer {
  /** Base64, as `wg` prints it. */
  readonly publicKey: string;
  /** The configuration's `name` of the peer, if any. */
  readonly name: string | null;
  /** `ip:port` the peer is reached at now, null if none yet. */
  readonly endpoint: string | null;
  /** Wall-clock milliseconds of the latest completed handshake, 0 if none. */
  readonly lastHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Datagrams (keepalives included) as the shared 32-bit words hold them: they wrap. */
  readonly rxPackets: number;
  readonly txPackets: number;
  /** Changes when the peer's counters start again from zero (removed and added again). */
  readonly epoch: string;
}

/** What the metrics read, at scrape time. */
export interface MetricsSource {
  readonly interfaceName: string;
  /** The interface's public key (base64), null while it has no private key. */
  publicKey(): string | null;
  listenPort(): number;
  peers(): MetricsPeer[];
  /** Each worker's counters (32-bit words that wrap, but for `heapUsedKiB`, a level). */
  workers(): Record<StatName, number>[];
  /** The public key (base64) of the peer in slot `slot`, as a Device action names it. */
  peerKey(slot: number): string | undefined;
  /** The control plane's rejected handshake messages by reason and cookie replies (the workers' are in their counters). */
  handshakeCounts(): ControlPlaneCounts;
  /** Whether the interface demands MAC2 cookies now. */
  underLoad(): boolean;
}

/** Options of {@link InterfaceMetrics}. */
export interface InterfaceMetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, event loop, GC); default true. */
  readonly processMetrics?: boolean;
}

/** Counters of the data plane that are not drops, by metric name. */
const DATAPLANE_COUNTERS: ReadonlyArray<[string, StatName, string]> = [
  ["taltun_udp_datagrams_received_total", "udpDatagrams", "UDP datagrams the workers received"],
  ["taltun_tun_packets_read_total", "tunPackets", "Packets the workers read from the TUN device"],
  ["taltun_tun_packets_written_total", "deliveredToTun", "Authenticated inner packets written to the TUN device"],
  ["taltun_relayed_packets_total", "relayed", "Packets from one peer sealed again for another peer inside the worker (user-space relay)"],
  ["taltun_staged_packets_total", "staged", "Packets held until a handshake with their peer completed"],
  ["taltun_handshake_messages_received_total", "handshakeMessages", "Handshake messages (types 1-3) the workers handed to the control plane"],
];

/** The drop counters of the data plane, by the value of their `reason` label. */
export const DROP_REASONS: ReadonlyMap<string, StatName> = new Map(
  STAT_NAMES.filter((n) => n.startsWith("dropped") || n === "sendErrors" || n === "tunWriteErrors").map((n) => [
    n
      .replace(/^dropped/, "")
      .replace(/Errors$/, "Error")
      .replace(/(?<=[a-z0-9])([A-Z])/g, "_$1")
      .toLowerCase(),
    n,
  ]),
);

/** A 32-bit counter word extended to a total: each read adds what the word moved since the previous read. */
class Wrapping {
  private last = 0;
  private total = 0;
  advance(word: number): number {
    const now = word >>> 0;
    this.total += (now - this.last) >>> 0;
    this.last = now;
    return this.total;
  }
}

/** One scrape's reading of the source. */
interface Sample {
  peers: MetricsPeer[];
  totals: Record<StatName, number>;
  heapKiB: number[];
  /** Extended packet totals by public key. */
  packets: Map<string, { rx: number; tx: number }>;
  nowMs: number;
}

type Fill = (put: (labels: Record<string, string>, value: number) => void, s: Sample) => void;

/**
 * The metrics of one interface in a registry of their own (two interfaces in one process
 * do not mix). Serve them with MetricsServer (metrics-server.ts), or read them with {@link scrape}.
 */
export class InterfaceMetrics {
  readonly registry = new Registry();
  private cached: Sample | null = null;
  private scraping = 0;
  private readonly handshakes = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly workerWords: Array<Map<StatName, Wrapping>> = [];
  private readonly peerWords = new Map<string, { epoch: string; rx: Wrapping; tx: Wrapping }>();

  constructor(
    private readonly source: MetricsSource,
    options: InterfaceMetricsOptions = {},
  ) {
    this.define();
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts what the control loop did in one round: handshakes completed, given up (rejections and cookie replies are counted where they happen). */
  observe(actions: readonly DeviceAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "keypair":
          bump(this.handshakes, this.source.peerKey(a.peer));
          break;
        case "handshake-failed":
          bump(this.failures, this.source.peerKey(a.peer));
          break;
      }
    }
  }

  /**
   * The text format of every metric, the source read once for all of them. (The
   * registry's own `metrics()` works too, each metric reading the source for itself.)
   */
  async scrape(): Promise<string> {
    if (this.scraping++ === 0) this.cached = null;
    try {
      return await this.registry.metrics();
    } finally {
      if (--this.scraping === 0) this.cached = null;
    }
  }

  /** The source read now; within a {@link scrape}, once for all its metrics. */
  private sample(): Sample {
    if (this.cached) return this.cached;
    const peers = this.source.peers();
    const workers = this.source.workers();
    const totals = Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Record<StatName, number>;
    workers.forEach((w, i) => {
      const words = (this.workerWords[i] ??= new Map());
      for (const n of STAT_NAMES) {
        if (n === "heapUsedKiB" || n === "heapSamples") continue;
        let c = words.get(n);
        if (!c) words.set(n, (c = new Wrapping()));
        totals[n] += c.advance(w[n]);
      }
    });
    const packets = new Map<string, { rx: number; tx: number }>();
    for (const p of peers) {
      let w = this.peerWords.get(p.publicKey);
      if (!w || w.epoch !== p.epoch) this.peerWords.set(p.publicKey, (w = { epoch: p.epoch, rx: new Wrapping(), tx: new Wrapping() }));
      packets.set(p.publicKey, { rx: w.rx.advance(p.rxPackets), tx: w.tx.advance(p.txPackets) });
    }
    // Peers that are gone take their series (and tallies) with them.
    for (const map of [this.peerWords, this.handshakes, this.failures]) for (const k of map.keys()) if (!packets.has(k)) map.delete(k);
    const sample = { peers, totals, heapKiB: workers.map((w) => w.heapUsedKiB), packets, nowMs: Date.now() };
    if (this.scraping > 0) this.cached = sample;
    return sample;
  }

  private define(): void {
    const registers = [this.registry];
    // collect() runs with `this` bound to its metric; the sample comes from here.
    const sample = () => this.sample();
    const counter = (name: string, help: string, labelNames: string[], fill: Fill) =>
      new Counter({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          fill((labels, value) => this.inc(labels, value), sample());
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], fill: Fill) =>
      new Gauge({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          fill((labels, value) => this.set(labels, value), sample());
        },
      });
    const peer = ["public_key", "name"];
    const perPeer = (put: (l: Record<string, string>, v: number) => void, s: Sample, value: (p: MetricsPeer) => number | undefined) => {
      for (const p of s.peers) {
        const v = value(p);
        if (v !== undefined) put({ public_key: p.publicKey, name: p.name ?? "" }, v);
      }
    };

    gauge("taltun_interface_info", "The interface: its name, public key and UDP listen port (value 1)", ["interface", "public_key", "listen_port"], (put) =>
      put({ interface: this.source.interfaceName, public_key: this.source.publicKey() ?? "", listen_port: String(this.source.listenPort()) }, 1),
    );
    gauge("taltun_peers", "Peers configured on the interface", [], (put, s) => put({}, s.peers.length));
    gauge("taltun_peer_info", "A peer and the endpoint it is reached at now, empty if none yet (value 1)", [...peer, "endpoint"], (put, s) => {
      for (const p of s.peers) put({ public_key: p.publicKey, name: p.name ?? "", endpoint: p.endpoint ?? "" }, 1);
    });
    counter(
      "taltun_peer_receive_bytes_total",
      "Bytes of authenticated WireGuard transport messages from the peer: per datagram 32 bytes of header and tag plus the inner packet padded to 16 (keepalives included)",
      peer, (put, s) => perPeer(put, s, (p) => p.rxBytes),
    );
    counter("taltun_peer_transmit_bytes_total", "Bytes of WireGuard transport messages sealed for the peer, counted as for receive", peer, (put, s) => perPeer(put, s, (p) => p.txBytes));
    counter("taltun_peer_receive_packets_total", "Authenticated transport datagrams from the peer (keepalives included)", peer, (put, s) =>
      perPeer(put, s, (p) => s.packets.get(p.publicKey)?.rx),
    );
    counter("taltun_peer_transmit_packets_total", "Transport datagrams sealed for the peer (keepalives included)", peer, (put, s) =>
      perPeer(put, s, (p) => s.packets.get(p.publicKey)?.tx),
    );
    counter("taltun_peer_handshakes_total", "Handshakes completed with the peer (a new session, whichever side initiated)", peer, (put, s) =>
      perPeer(put, s, (p) => this.handshakes.get(p.publicKey) ?? 0),
    );
    counter("taltun_peer_handshake_failures_total", "Handshakes with the peer given up after REKEY_ATTEMPT_TIME (90 s) without an answer", peer, (put, s) =>
      perPeer(put, s, (p) => this.failures.get(p.publicKey) ?? 0),
    );
    gauge("taltun_peer_seconds_since_last_handshake", "Seconds since the latest handshake completed with the peer; +Inf if none has", peer, (put, s) =>
      perPeer(put, s, (p) => (p.lastHandshakeMs > 0 ? Math.max(0, (s.nowMs - p.lastHandshakeMs) / 1000) : Infinity)),
    );
    counter(
      "taltun_dropped_packets_total",
      "Packets and datagrams the data plane dropped, by reason (short, type, no_keypair, counter_limit, auth, replay, malformed, source, no_route, no_session, no_endpoint, ring_full, handshake_size, send_error, tun_write_error)",
      ["reason"],
      (put, s) => {
        for (const [reason, stat] of DROP_REASONS) put({ reason }, s.totals[stat]);
      },
    );
    for (const [name, stat, help] of DATAPLANE_COUNTERS) counter(name, help, [], (put, s) => put({}, s.totals[stat]));
    const totals = (s: Sample) => handshakeTotals(this.source.handshakeCounts(), s.totals);
    counter("taltun_cookie_replies_sent_total", "Cookie replies sent, by the workers and the control plane: handshake messages without a valid MAC2 answered while under load", [], (put, s) =>
      put({}, totals(s).cookieReplies),
    );
    counter(
      "taltun_handshakes_rejected_total",
      "Handshake messages rejected by the workers or the control plane, by reason (bad_mac1; unknown_index: answers nothing of ours; flood: over a per-source rate limit under load; unknown_peer, ...)",
      ["reason"],
      (put, s) => {
        for (const [reason, n] of Object.entries(totals(s).rejected)) put({ reason }, n);
      },
    );
    gauge("taltun_under_load", "1 while the interface demands MAC2 cookies on handshake messages (a flood of handshakes), else 0", [], (put) => put({}, this.source.underLoad() ? 1 : 0));
    gauge("taltun_worker_heap_used_bytes", "V8 heap in use by each data-plane worker thread, sampled about once a second", ["worker"], (put, s) =>
      s.heapKiB.forEach((kib, i) => put({ worker: String(i) }, kib * 1024)),
    );
  }
}

function bump(map: Map<string, number>, key: string | undefined): void {
  if (key !== undefined) map.set(key, (map.get(key) ?? 0) + 1);
}
