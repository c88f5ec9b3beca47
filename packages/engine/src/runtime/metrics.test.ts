import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { STAT_NAMES, type StatName } from "../dataplane/stats.js";
import { createLogger } from "../log/log.js";
import type { ControlPlaneCounts } from "./handshake-counts.js";
import { DROP_REASONS, InterfaceMetrics, type MetricsPeer, type MetricsSource } from "./metrics.js";
import { MetricsServer } from "./metrics-server.js";

const KEY_A = "A".repeat(43) + "=";
const KEY_B = "B".repeat(43) + "=";

/** A source whose figures the test sets. */
function fakeSource() {
  const stats = () => Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Record<StatName, number>;
  const state = {
    peers: [
      { publicKey: KEY_A, name: "office", endpoint: "198.18.0.2:51820", lastHandshakeMs: Date.now() - 30_000, rxBytes: 5_000_000_000, txBytes: 1234, rxPackets: 10, txPackets: 20, epoch: "0:1" },
      { publicKey: KEY_B, name: null, endpoint: null, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, epoch: "1:1" },
    ] as MetricsPeer[],
    workers: [stats(), stats()],
    counts: { rejected: {}, cookieReplies: 0 } as ControlPlaneCounts,
    reads: 0,
  };
  const source: MetricsSource = {
    interfaceName: "tt0",
    publicKey: () => KEY_B,
    listenPort: () => 51820,
    peers: () => {
      state.reads++;
      return state.peers.map((p) => ({ ...p }));
    },
    workers: () => state.workers.map((w) => ({ ...w })),
    peerKey: (slot) => [KEY_A, KEY_B][slot],
    handshakeCounts: () => state.counts,
    underLoad: () => false,
  };
  return { source, state };
}

/** Sample lines of the text format by metric name and labels: `name{a="b"}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    const value = line.slice(at + 1);
    out.set(line.slice(0, at), value === "+Inf" ? Infinity : value === "-Inf" ? -Infinity : Number(value));
  }
  return out;
}

const logger = createLogger({ level: "silent" });
const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe("InterfaceMetrics", () => {
  it("exports per-peer transfer, handshakes and endpoint, and the data plane's drops by reason", async () => {
    const { source, state } = fakeSource();
    const m = new InterfaceMetrics(source, { processMetrics: false });
    state.workers[0].droppedAuth = 3;
    state.workers[1].droppedAuth = 4;
    state.workers[0].relayed = 7;
    state.workers[1].staged = 2;
    state.workers[0].heapUsedKiB = 2048;
    state.workers[1].sendErrors = 1;
    // Rejections and cookie replies: the control plane's and the workers', one total.
    state.counts = { rejected: { flood: 1 }, cookieReplies: 1 };
    state.workers[0].rejectedBadMac1 = 2;
    state.workers[1].cookieReplies = 3;
    m.observe([
      { type: "keypair", peer: 0, role: "initiator" },
      { type: "keypair", peer: 0, role: "responder" },
      { type: "handshake-failed", peer: 1 },
      { type: "send", peer: 0, endpoint: new Uint8Array(24), bytes: new Uint8Array(148), message: "initiation" },
    ]);
    const v = parse(await m.scrape());
    const a = `public_key="${KEY_A}",name="office"`;
    const b = `public_key="${KEY_B}",name=""`;
    expect(v.get(`taltun_peer_receive_bytes_total{${a}}`)).toBe(5_000_000_000);
    expect(v.get(`taltun_peer_transmit_bytes_total{${a}}`)).toBe(1234);
    expect(v.get(`taltun_peer_receive_packets_total{${a}}`)).toBe(10);
    expect(v.get(`taltun_peer_transmit_packets_total{${a}}`)).toBe(20);
    expect(v.get(`taltun_peer_handshakes_total{${a}}`)).toBe(2);
    expect(v.get(`taltun_peer_handshakes_total{${b}}`)).toBe(0);
    expect(v.get(`taltun_peer_handshake_failures_total{${b}}`)).toBe(1);
    expect(v.get(`taltun_peer_seconds_since_last_handshake{${a}}`)).toBeGreaterThanOrEqual(30);
    expect(v.get(`taltun_peer_seconds_since_last_handshake{${a}}`)).toBeLessThan(40);
    expect(v.get(`taltun_peer_seconds_since_last_handshake{${b}}`)).toBe(Infinity);
    expect(v.get(`taltun_peer_info{${a},endpoint="198.18.0.2:51820"}`)).toBe(1);
    expect(v.get(`taltun_peer_info{${b},endpoint=""}`)).toBe(1);
    expect(v.get(`taltun_dropped_packets_total{reason="auth"}`)).toBe(7);
    expect(v.get(`taltun_dropped_packets_total{reason="send_error"}`)).toBe(1);
    expect(v.get("taltun_relayed_packets_total")).toBe(7);
    expect(v.get("taltun_staged_packets_total")).toBe(2);
    expect(v.get("taltun_cookie_replies_sent_total")).toBe(4);
    expect(v.get(`taltun_handshakes_rejected_total{reason="flood"}`)).toBe(1);
    expect(v.get(`taltun_handshakes_rejected_total{reason="bad_mac1"}`)).toBe(2);
    expect(v.get(`taltun_handshakes_rejected_total{reason="unknown_peer"}`)).toBe(0);
    expect(v.get("taltun_under_load")).toBe(0);
    expect(v.get(`taltun_worker_heap_used_bytes{worker="0"}`)).toBe(2048 * 1024);
    expect(v.get(`taltun_interface_info{interface="tt0",public_key="${KEY_B}",listen_port="51820"}`)).toBe(1);
    expect(v.get("taltun_peers")).toBe(2);
    // Every reason of the issue, one series each.
    const reasons = [...DROP_REASONS.keys()];
    expect(reasons).toEqual(expect.arrayContaining([
      "short", "type", "no_keypair", "counter_limit", "auth", "replay", "malformed", "source", "no_route", "no_session",
      "no_endpoint", "ring_full", "handshake_size", "send_error", "tun_write_error",
    ]));
    for (const r of reasons) expect(v.has(`taltun_dropped_packets_total{reason="${r}"}`)).toBe(true);
  });

  it("reads the source once per scrape, at scrape time", async () => {
    const { source, state } = fakeSource();
    const m = new InterfaceMetrics(source, { processMetrics: false });
    await m.scrape();
    expect(state.reads).toBe(1);
    state.peers[0] = { ...state.peers[0], rxBytes: 6_000_000_000 };
    const v = parse(await m.scrape());
    expect(state.reads).toBe(2);
    expect(v.get(`taltun_peer_receive_bytes_total{public_key="${KEY_A}",name="office"}`)).toBe(6_000_000_000);
    // The registry read directly: each metric reads for itself, never a stale sample.
    state.peers[0] = { ...state.peers[0], rxBytes: 7_000_000_000 };
    expect(parse(await m.registry.metrics()).get(`taltun_peer_receive_bytes_total{public_key="${KEY_A}",name="office"}`)).toBe(7_000_000_000);
  });

  it("carries 32-bit counter words across their wrap, and starts a re-added peer from zero", async () => {
    const { source, state } = fakeSource();
    const m = new InterfaceMetrics(source, { processMetrics: false });
    const a = `public_key="${KEY_A}",name="office"`;
    state.workers[0].droppedReplay = 0xffff_fff0;
    state.peers[0] = { ...state.peers[0], rxPackets: 0x7fff_fff0 | 0 };
    let v = parse(await m.scrape());
    expect(v.get(`taltun_dropped_packets_total{reason="replay"}`)).toBe(0xffff_fff0);
    state.workers[0].droppedReplay = 0x10; // wrapped: 0x20 more
    state.peers[0] = { ...state.peers[0], rxPackets: (0x8000_0010 | 0) }; // a negative Int32 word: 0x20 more
    v = parse(await m.scrape());
    expect(v.get(`taltun_dropped_packets_total{reason="replay"}`)).toBe(0xffff_fff0 + 0x20);
    expect(v.get(`taltun_peer_receive_packets_total{${a}}`)).toBe(0x7fff_fff0 + 0x20);
    state.peers[0] = { ...state.peers[0], rxPackets: 3, epoch: "0:2" };
    v = parse(await m.scrape());
    expect(v.get(`taltun_peer_receive_packets_total{${a}}`)).toBe(3);
    state.peers.splice(0, 1);
    v = parse(await m.scrape());
    expect([...v.keys()].some((k) => k.includes(KEY_A))).toBe(false);
  });

  it("adds prom-client's process metrics", async () => {
    const m = new InterfaceMetrics(fakeSource().source);
    const text = await m.scrape();
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(text).toContain("process_resident_memory_bytes");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });
});

/** A raw HTTP exchange: what the server answers to `request`, until it closes. */
function raw(port: number, request: string, waitMs = 2000): Promise<{ text: string; closedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d));
    s.on("error", reject);
    s.on("close", () => resolve({ text, closedMs: Date.now() - started }));
    s.write(request);
    setTimeout(() => s.destroy(), waitMs);
  });
}

describe("MetricsServer", () => {
  async function serve(options = {}) {
    const m = new InterfaceMetrics(fakeSource().source, { processMetrics: false });
    const s = await MetricsServer.listen({ host: "127.0.0.1", port: 0 }, m, logger, options);
    servers.push(s);
    return s;
  }

  it("answers GET /metrics in the text format, and nothing else", async () => {
    const s = await serve();
    const url = `http://127.0.0.1:${s.address.port}`;
    const ok = await fetch(`${url}/metrics`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toContain("# TYPE taltun_peer_receive_bytes_total counter");
    expect((await fetch(`${url}/metrics?x=1`)).status).toBe(200);
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
      const r = await fetch(`${url}/metrics`, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get("allow")).toBe("GET");
    }
    for (const path of ["/", "/metrics/", "/metricsx", "/debug"]) expect((await fetch(`${url}${path}`)).status, path).toBe(404);
    const body = await raw(s.address.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    expect(body.text).toMatch(/^HTTP\/1\.1 413 /);
  });

  it("bounds a request's size and time", async () => {
    const s = await serve({ requestTimeoutMs: 500 });
    const big = await raw(s.address.port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(big.text).toMatch(/^(HTTP\/1\.1 431 |$)/);
    expect(big.closedMs).toBeLessThan(1500);
    // Half a request, never finished: the connection is closed within the bound (checked every 500 ms).
    const slow = await raw(s.address.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n", 5000);
    expect(slow.closedMs).toBeLessThan(2500);
  });

  it("says what is wrong when the address is taken", async () => {
    const s = await serve();
    const m = new InterfaceMetrics(fakeSource().source, { processMetrics: false });
    await expect(MetricsServer.listen({ host: "127.0.0.1", port: s.address.port }, m, logger)).rejects.toThrow(/127\.0\.0\.1:\d+: the address is in use/);
  });
});
