/**
 * A soak of a Taltun hub, too long for the test suite (issue 12): a hub and several spokes
 * with mixed traffic (iperf3 TCP and UDP at a bounded rate, pings to the hub and between
 * spokes through the hub's relay) while peers churn (`wg set` adds and removes one every
 * few seconds; `taltun reload` applies a changed file now and then). Every 5 s it samples
 * the hub's resident memory and each worker's V8 heap (the metrics endpoint), prints a CSV
 * line, and ends with a summary: start, end and maximum, and the slope of a least-squares
 * line through the second half (MiB a minute: a leak shows as a slope that does not settle).
 *
 *   pnpm --filter @taltun/e2e run soak -- --minutes 10 [--spokes 3]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { rssKb, scrape } from "./adversary.js";
import { Lab, type LabProcess, requireLabPreconditions } from "./netns.js";
import { TALTUN_CLI, taltunHub } from "./taltun.js";
import { wgKeyPair } from "./wireguard-go.js";

// pnpm passes the `--` of `pnpm run soak -- --minutes 10` on: drop it.
const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
const { values } = parseArgs({ args: argv, options: { minutes: { type: "string", default: "10" }, spokes: { type: "string", default: "3" } } });
const minutes = Number(values.minutes);
const spokeCount = Math.max(2, Number(values.spokes));
if (!(minutes > 0 && minutes <= 120)) throw new Error("--minutes must be in (0, 120]");
const NET = 186;
const SAMPLE_MS = 5000;
const METRICS = "http://127.0.0.1:9586/metrics";

requireLabPreconditions();
const lab = new Lab("sk");
process.once("SIGINT", () => void lab.close().then(() => process.exit(130)));
const deadline = Date.now() + minutes * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tally = { tcpRuns: 0, udpRuns: 0, iperfFailed: 0, wgSet: 0, reloads: 0, reloadFailed: 0 };
/** iperf3 runs (seconds since the epoch) with UDP loss or TCP retransmits, and reload times: to explain lost pings. */
const runs: { kind: "tcp" | "udp"; start: number; end: number; udpLostPercent?: number; tcpRetransmits?: number }[] = [];
const reloadTimes: number[] = [];
const now = () => Date.now() / 1000;

/** Runs iperf3 (-J) in `ns` again and again until the deadline, keeping what each run reports. */
async function loop(ns: string, kind: "tcp" | "udp", cmd: string[]): Promise<void> {
  while (Date.now() < deadline - 12_000) {
    const start = now();
    const p: LabProcess = lab.spawn(ns, [...cmd, "-J"]);
    if ((await p.exited) !== 0) {
      tally.iperfFailed++;
      await sleep(1000);
      continue;
    }
    const end = JSON.parse(p.output()).end;
    runs.push({ kind, start, end: now(), udpLostPercent: end.sum?.lost_percent, tcpRetransmits: end.sum_sent?.retransmits });
    if (kind === "tcp") tally.tcpRuns++;
    else tally.udpRuns++;
    await sleep(1000);
  }
}

/** Lost pings (from `ping -D -O`), and how many fell within 2 s after a reload or during a UDP iperf3 run. */
function pingLosses(output: string): string {
  const lost = [...output.matchAll(/^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)/gm)].map((m) => Number(m[1]));
  const afterReload = lost.filter((t) => reloadTimes.some((r) => t >= r && t - r < 2)).length;
  const duringUdp = lost.filter((t) => runs.some((r) => r.kind === "udp" && t >= r.start && t <= r.end)).length;
  const summary = output.match(/\d+ packets transmitted, \d+ received.*?loss/)?.[0] ?? "no summary";
  return `${summary}; of ${lost.length} unanswered: ${afterReload} within 2 s after a reload, ${duringUdp} during a UDP iperf3 run`;
}

/** Least-squares slope of ys over xs. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

try {
  const net = await taltunHub(lab, NET, spokeCount, ["--metrics-addr", "9586"]);
  const hubPid = net.hubProcess.child.pid!;
  const hubVip = net.hubVip;
  const file = `${lab.dir}/${net.hubIf}.toml`;
  const original = readFileSync(file, "utf8");
  for (const port of [5201, 5202]) lab.spawn(net.hub, ["iperf3", "-s", "-p", String(port)]);
  await sleep(500);
  const [a, b, c] = net.spokes;
  const secondsLeft = Math.floor((deadline - Date.now()) / 1000);
  // Bounded rates: this machine is shared; the point is time under churn, not throughput.
  const traffic = [
    loop(a.ns, "tcp", ["iperf3", "-c", hubVip, "-p", "5201", "-t", "10", "-b", "100M"]),
    loop(b.ns, "udp", ["iperf3", "-c", hubVip, "-p", "5202", "-t", "10", "-u", "-b", "30M", "-l", "1200"]),
  ];
  const pingHub = lab.spawn(c.ns, ["ping", "-D", "-O", "-i", "0.2", "-w", String(Math.max(1, secondsLeft - 5)), hubVip]);
  const pingRelay = lab.spawn(c.ns, ["ping", "-D", "-O", "-i", "0.5", "-w", String(Math.max(1, secondsLeft - 5)), a.vip]);

  // Churn: a peer added and removed by wg set every 3 s; every 15 s a reload of a file
  // that gains or loses a peer and changes a spoke's keepalive.
  const churn = (async () => {
    const visitors = [wgKeyPair(), wgKeyPair()];
    for (let i = 0; Date.now() < deadline - 8000; i++) {
      const v = visitors[i % 2];
      const wg = (...args: string[]) => lab.exec(net.hub, ["wg", "set", net.hubIf, "peer", v.publicKey, ...args]);
      wg("allowed-ips", `100.64.${NET}.${200 + (i % 2)}/32`, "endpoint", `198.18.${NET}.250:51820`);
      await sleep(1500);
      wg("remove");
      tally.wgSet += 2;
      await sleep(1500);
      if (i % 5 === 4) {
        const toml = (i / 5) % 2 === 0
          ? original.replace(`vip = "${b.vip}"`, `vip = "${b.vip}"\npersistent_keepalive = 9`).concat(`\n[[peers]]\nvip = "100.64.${NET}.210"\npublic_key = "${wgKeyPair().publicKey}"\n`)
          : original;
        writeFileSync(file, toml);
        try {
          reloadTimes.push(now());
          lab.exec(net.hub, ["node", TALTUN_CLI, "reload", net.hubIf]);
          tally.reloads++;
        } catch {
          tally.reloadFailed++;
        }
      }
    }
  })();

  const rows: { t: number; rss: number; heaps: number[]; mainHeap: number }[] = [];
  const started = Date.now();
  console.log(`soak: hub and ${spokeCount} spokes for ${minutes} min; sampling every ${SAMPLE_MS / 1000} s`);
  console.log("t_s,rss_mib,main_heap_mib,worker_heaps_mib");
  while (Date.now() < deadline) {
    const m = scrape(lab, net.hub, METRICS);
    const heaps = [...m].filter(([k]) => k.startsWith("taltun_worker_heap_used_bytes")).map(([, v]) => v / 2 ** 20);
    const row = { t: (Date.now() - started) / 1000, rss: rssKb(hubPid) / 1024, heaps, mainHeap: (m.get("nodejs_heap_size_used_bytes") ?? NaN) / 2 ** 20 };
    rows.push(row);
    console.log([row.t.toFixed(0), row.rss.toFixed(1), row.mainHeap.toFixed(1), heaps.map((h) => h.toFixed(1)).join("/")].join(","));
    await sleep(Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now())));
  }
  await Promise.all([...traffic, churn, pingHub.exited, pingRelay.exited]);

  const half = rows.slice(Math.floor(rows.length / 2));
  const perMin = (ys: number[]) => slope(half.map((r) => r.t / 60), ys);
  const stat = (name: string, ys: number[]) =>
    `${name}: start ${ys[0].toFixed(1)}, end ${ys.at(-1)!.toFixed(1)}, max ${Math.max(...ys).toFixed(1)} MiB; second-half slope ${perMin(ys.slice(-half.length)).toFixed(2)} MiB/min`;
  console.log("\nsummary");
  console.log(stat("hub RSS", rows.map((r) => r.rss)));
  console.log(stat("main heap", rows.map((r) => r.mainHeap)));
  for (let w = 0; w < rows[0].heaps.length; w++) console.log(stat(`worker ${w} heap`, rows.map((r) => r.heaps[w])));
  console.log(`traffic: ${JSON.stringify(tally)}`);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
  console.log(`iperf3: UDP loss ${mean(runs.flatMap((r) => r.udpLostPercent ?? [])).toFixed(2)}% on average; TCP retransmits ${mean(runs.flatMap((r) => r.tcpRetransmits ?? [])).toFixed(0)} a run on average`);
  console.log(`pings to the hub: ${pingLosses(pingHub.output())}`);
  console.log(`pings relayed to a spoke: ${pingLosses(pingRelay.output())}`);
  if (net.hubProcess.child.exitCode !== null) throw new Error(`the hub exited: ${net.hubProcess.output()}`);
} finally {
  await lab.close();
}
