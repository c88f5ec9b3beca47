/**
 * Operating Taltun (issue 13): the Prometheus endpoint of two Taltun namespaces, scraped
 * while iperf3 runs between them. A peer's byte counters are checked against iperf3's
 * byte count, the endpoint refuses anything but GET /metrics and listens on loopback
 * unless told otherwise, `taltun-wg` serves the same on TALTUN_METRICS_ADDR, and the
 * example Grafana dashboard queries only metrics that a scrape has.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardMetrics, readDashboard, scrapedMetrics, structureProblems } from "./grafana.js";
import { Lab, type LabProcess, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun, TALTUN_WG } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { type KeyPair, wgKeyPair } from "./wireguard-go.js";

const HTTP_GET = new URL("./http-get.mjs", import.meta.url).pathname;

/** What http-get.mjs prints. */
interface HttpResult {
  status?: number;
  allow?: string | null;
  contentType?: string | null;
  body?: string;
  ms?: number;
  error?: string;
}

/** Sample lines by `name{labels}`; +Inf as Infinity. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    const v = line.slice(at + 1);
    out.set(line.slice(0, at), v === "+Inf" ? Infinity : Number(v));
  }
  return out;
}

describe("metrics: Prometheus endpoint of two Taltun namespaces", () => {
  const lab = new Lab("mx");
  let a = "";
  let b = "";
  let c = "";
  let hubKeys: KeyPair;
  let spokeKeys: KeyPair;
  let spoke: LabProcess;
  let lastHubScrape = "";

  /** One request from namespace `ns`, in a process of its own (the test's event loop stays free). */
  async function http(ns: string, url: string, method = "GET"): Promise<HttpResult> {
    const p = lab.spawn(ns, ["node", HTTP_GET, url, method]);
    await p.exited;
    return JSON.parse(p.output().trim().split("\n").pop() ?? "{}") as HttpResult;
  }

  /** A scrape of the hub from its own namespace, on loopback. */
  async function scrapeHub(): Promise<{ values: Map<string, number>; ms: number }> {
    const r = await http(a, "http://127.0.0.1:9586/metrics");
    if (r.status !== 200) throw new Error(`scrape failed: ${JSON.stringify(r)}`);
    lastHubScrape = r.body ?? "";
    return { values: samples(lastHubScrape), ms: r.ms ?? 0 };
  }

  const peerLabels = (key: string, name: string) => `public_key="${key}",name="${name}"`;

  beforeAll(async () => {
    requireLabPreconditions();
    a = lab.netns("a");
    b = lab.netns("b");
    c = lab.netns("c");
    lab.link(a, "198.18.150.1/24", b, "198.18.150.2/24");
    hubKeys = wgKeyPair();
    spokeKeys = wgKeyPair();
    // The hub with a port alone (loopback); the spoke with an address written out.
    await startTaltun(lab, a, {
      mode: "server", tunName: `h150${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:51820", vip: "100.64.150.1/24", privateKey: hubKeys.privateKey,
      peers: [{ vip: "100.64.150.2", publicKey: spokeKeys.publicKey, name: "spoke b" }],
    }, ["--metrics-addr", "9586"]);
    spoke = await startTaltun(lab, b, {
      mode: "client", tunName: `s150${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:0", vip: "100.64.150.2/24", privateKey: spokeKeys.privateKey,
      peers: [{ vip: "100.64.150.1", publicKey: hubKeys.publicKey, endpoint: "198.18.150.1:51820", allowedIps: ["100.64.150.0/24"], name: "hub a" }],
    }, ["--metrics-addr", "0.0.0.0:9587"]);
    await pingOk(lab, b, "100.64.150.1");
  });
  afterAll(() => lab.close());

  it("counts a peer's bytes as iperf3 does, scraped during the run", async () => {
    // iperf3 counts TCP payload; the peer counters count WireGuard datagrams. Each data
    // packet carries 32 bytes of WireGuard header and tag, an IPv4 header (20) and a TCP
    // header (20, 32 with timestamps, which both namespaces use unless switched off), and
    // padding of the inner packet to a multiple of 16 (0-15 bytes). So payload = rx bytes -
    // rx packets x (32 + 20 + TCP header), give or take the padding (at most 15 bytes of a
    // 1368-byte segment: 1.1%) and the few packets of the control connection.
    const timestamps = [a, b].every((ns) => lab.exec(ns, ["sysctl", "-n", "net.ipv4.tcp_timestamps"]).trim() !== "0");
    const perPacket = 32 + 20 + (timestamps ? 32 : 20);
    lab.spawn(a, ["iperf3", "-s", "-1", "-B", "100.64.150.1", "-p", "5211"]);
    await waitFor("iperf3 server", 10_000, () => (lab.exec(a, ["ss", "-ltnH", "sport = :5211"]).includes("5211") ? true : undefined));
    const hubPeer = peerLabels(spokeKeys.publicKey, "spoke b");
    const spokePeer = peerLabels(hubKeys.publicKey, "hub a");
    const spokeScrape = async () => samples((await http(b, "http://127.0.0.1:9587/metrics")).body ?? "");
    const before = (await scrapeHub()).values;
    const spokeBefore = await spokeScrape();

    const client = lab.spawn(b, ["iperf3", "-c", "100.64.150.1", "-p", "5211", "-t", "4", "-J"]);
    const during: Array<{ ms: number; rx: number }> = [];
    let finished = false;
    void client.exited.then(() => (finished = true));
    while (!finished) {
      const s = await scrapeHub();
      during.push({ ms: s.ms, rx: s.values.get(`taltun_peer_receive_bytes_total{${hubPeer}}`) ?? NaN });
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await client.exited).toBe(0);
    const iperf = JSON.parse(client.output()) as { end: { sum_received: { bytes: number } } };
    await new Promise((r) => setTimeout(r, 300));
    const after = (await scrapeHub()).values;
    const spokeAfter = await spokeScrape();

    const delta = (m1: Map<string, number>, m2: Map<string, number>, k: string) => (m2.get(k) ?? NaN) - (m1.get(k) ?? NaN);
    const rxBytes = delta(before, after, `taltun_peer_receive_bytes_total{${hubPeer}}`);
    const rxPackets = delta(before, after, `taltun_peer_receive_packets_total{${hubPeer}}`);
    const txBytes = delta(spokeBefore, spokeAfter, `taltun_peer_transmit_bytes_total{${spokePeer}}`);
    const payload = rxBytes - rxPackets * perPacket;
    const received = iperf.end.sum_received.bytes;
    console.log(
      `iperf3 received ${received} B; hub rx ${rxBytes} B in ${rxPackets} datagrams (spoke tx ${txBytes} B); ` +
        `payload from the counters ${payload} B (${perPacket} B a datagram): ${((payload / received - 1) * 100).toFixed(3)}% off; ` +
        `${during.length} scrapes during the run, slowest ${Math.max(...during.map((d) => d.ms)).toFixed(1)} ms`,
    );
    expect(received).toBeGreaterThan(1 << 20);
    expect(Math.abs(payload - received) / received).toBeLessThan(0.02);
    // Both ends of the tunnel count the same datagrams.
    expect(Math.abs(txBytes - rxBytes) / rxBytes).toBeLessThan(0.02);
    // Scrapes during the run answered promptly and saw the counter climb.
    expect(during.length).toBeGreaterThanOrEqual(4);
    for (const d of during) expect(d.ms).toBeLessThan(1000);
    for (let i = 1; i < during.length; i++) expect(during[i].rx).toBeGreaterThanOrEqual(during[i - 1].rx);
    expect(during[during.length - 1].rx).toBeGreaterThan(during[0].rx);
    expect(delta(before, after, `taltun_dropped_packets_total{reason="auth"}`)).toBe(0);
  });

  it("exports handshakes, the endpoint, the configured name, drops by reason and process metrics", async () => {
    const { values: v } = await scrapeHub();
    const hubPeer = peerLabels(spokeKeys.publicKey, "spoke b");
    expect(v.get(`taltun_peer_handshakes_total{${hubPeer}}`)).toBeGreaterThanOrEqual(1);
    expect(v.get(`taltun_peer_handshake_failures_total{${hubPeer}}`)).toBe(0);
    expect(v.get(`taltun_peer_seconds_since_last_handshake{${hubPeer}}`)).toBeLessThan(60);
    const info = [...v.keys()].find((k) => k.startsWith(`taltun_peer_info{${hubPeer},endpoint=`));
    expect(info).toMatch(/endpoint="198\.18\.150\.2:\d+"\}$/);
    for (const reason of ["short", "type", "no_keypair", "counter_limit", "auth", "replay", "malformed", "source", "no_route", "no_session", "no_endpoint", "ring_full", "handshake_size", "send_error", "tun_write_error"]) {
      expect(v.has(`taltun_dropped_packets_total{reason="${reason}"}`), reason).toBe(true);
    }
    expect(v.get("taltun_cookie_replies_sent_total")).toBe(0);
    expect(v.get(`taltun_handshakes_rejected_total{reason="flood"}`)).toBe(0);
    expect(v.get("taltun_relayed_packets_total")).toBe(0);
    expect(v.get(`taltun_worker_heap_used_bytes{worker="0"}`)).toBeGreaterThan(0);
    expect(v.get("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(v.get("process_resident_memory_bytes")).toBeGreaterThan(1 << 20);
    const spokeView = samples((await http(b, "http://127.0.0.1:9587/metrics")).body ?? "");
    expect(spokeView.get(`taltun_peer_info{${peerLabels(hubKeys.publicKey, "hub a")},endpoint="198.18.150.1:51820"}`)).toBe(1);
  });

  it("answers only GET /metrics: 405 for other methods, 404 for other paths", async () => {
    const ok = await http(a, "http://127.0.0.1:9586/metrics");
    expect(ok.status).toBe(200);
    expect(ok.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
      const r = await http(a, "http://127.0.0.1:9586/metrics", method);
      expect(r.status, method).toBe(405);
      expect(r.allow).toBe("GET");
    }
    for (const path of ["/", "/metrics/x", "/debug/pprof", "/favicon.ico"]) expect((await http(a, `http://127.0.0.1:9586${path}`)).status, path).toBe(404);
  });

  it("listens on loopback by default, and on another address only when given", async () => {
    expect(lab.exec(a, ["ss", "-ltnH", "sport = :9586"])).toMatch(/127\.0\.0\.1:9586/);
    expect((await http(a, "http://198.18.150.1:9586/metrics")).error).toBe("ECONNREFUSED");
    expect((await http(b, "http://198.18.150.1:9586/metrics")).error).toBe("ECONNREFUSED");
    // The spoke was given 0.0.0.0:9587: reachable from the hub, with a warning in its log.
    expect((await http(a, "http://198.18.150.2:9587/metrics")).status).toBe(200);
    expect(spoke.output()).toMatch(/WARN {2}metrics served beyond loopback/);
  });

  it("the example Grafana dashboard imports: title, panels with targets, schemaVersion; every metric it queries is in a scrape", async () => {
    await scrapeHub();
    const d = readDashboard();
    expect(structureProblems(d)).toEqual([]);
    const used = dashboardMetrics(d);
    const scraped = scrapedMetrics(lastHubScrape);
    expect([...used].filter((m) => !scraped.has(m))).toEqual([]);
    // And it shows every metric of Taltun's own.
    expect([...scraped].filter((m) => m.startsWith("taltun_") && !used.has(m))).toEqual([]);
  });

  it("taltun-wg serves them on TALTUN_METRICS_ADDR, and refuses a bad one before starting", async () => {
    const ifname = `w150${lab.tag}`.slice(0, 15);
    lab.spawn(c, [TALTUN_WG, "-f", ifname], { TALTUN_METRICS_ADDR: "9588" });
    lab.afterExit(() => lab.exec(c, ["rm", "-f", `/var/run/wireguard/${ifname}.sock`]));
    await waitFor("taltun-wg's UAPI socket", 10_000, () => (existsSync(`/var/run/wireguard/${ifname}.sock`) ? true : undefined));
    const r = await http(c, "http://127.0.0.1:9588/metrics");
    expect(r.status).toBe(200);
    expect(r.body).toMatch(new RegExp(`^taltun_interface_info\\{interface="${ifname}",public_key="",listen_port="\\d+"\\} 1$`, "m"));
    const bad = spawnSync("ip", ["netns", "exec", c, TALTUN_WG, "-f", "wbad"], { env: { ...process.env, TALTUN_METRICS_ADDR: "localhost:9588" }, encoding: "utf8", timeout: 15_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('taltun-wg: TALTUN_METRICS_ADDR: must be a numeric address, e.g. 127.0.0.1:9586, [::1]:9586, or a port alone for loopback (got "localhost:9588")\n');
  });
});
