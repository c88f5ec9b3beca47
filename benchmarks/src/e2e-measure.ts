/**
 * One measurement of one case: a fresh lab (two namespaces on a veth pair), the case's
 * VPNs, then iperf3 TCP with 1 and 4 streams, iperf3 UDP at line rate, and ping during
 * the 1-stream TCP run; machine CPU from /proc/stat and the VPN processes' CPU from
 * /proc/<pid>/stat around each iperf3 run. Every load is bounded in seconds (iperf3 -t,
 * ping -w, a kill timer on every process) and in packets (iperf3 -b caps the rate, so
 * bytes <= rate x seconds; ping -c); the lab removes everything it made, also on failure.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { Lab, type LabProcess, waitFor } from "@taltun/e2e/lab";
import { type Case, type CaseOptions, CLIENT_UNDERLAY, SERVER_UNDERLAY, type Tunnel } from "./e2e-cases.js";

const TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK)
const IPERF_PORT = 5201;
/** Per-stream rate cap for TCP: far above what this machine reaches, only a bound. */
export const TCP_RATE_CAP = "50G";
/** Offered UDP rate: "line rate" for every case here (none gets near it), and a packet bound. */
export const UDP_RATE = "10G";
export const UDP_PAYLOAD = 1400;

/** One load's figures. */
export interface LoadResult {
  gbps: number;
  bytes: number;
  seconds: number;
  /** All cores' busy time over the run, per GB received. */
  cpuPerGB: number;
  /** The VPN processes' own user+system time, per GB received (null for the bare veth). */
  vpnCpuPerGB: number | null;
}

export interface UdpResult extends LoadResult {
  lossPercent: number;
  packetsSent: number;
}

export interface RttResult {
  /** Median of the replies, ms. */
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  sent: number;
  received: number;
}

/** Everything one case gave in one round. */
export interface Sample {
  case: string;
  round: number;
  loadavg: number[];
  tcp1: LoadResult;
  tcp4: LoadResult;
  udp: UdpResult;
  rttIdle: RttResult;
  /** During the 1-stream TCP run. */
  rttLoad: RttResult;
}

function machineBusyTicks(): number {
  const [, ...f] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return user + nice + system + irq + softirq + steal;
}

/** utime + stime of a process, all its threads (field 14 and 15 of /proc/<pid>/stat). */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Resolves with the process's stdout once it exits 0; kills it (by PID) if it outlasts `ms`. */
async function finish(p: LabProcess, stdout: () => string, ms: number, what: string): Promise<string> {
  const timer = setTimeout(() => p.child.kill("SIGKILL"), ms);
  try {
    const code = await p.exited;
    if (code !== 0) throw new Error(`${what} exited ${code}: ${p.output().slice(-2000)}`);
    return stdout();
  } finally {
    clearTimeout(timer);
  }
}

/** Spawns `cmd` in `ns` through the lab (which ends it by PID on close) and keeps its stdout apart. */
function start(lab: Lab, ns: string, cmd: string[]): { p: LabProcess; stdout: () => string } {
  const p = lab.spawn(ns, cmd);
  let out = "";
  p.child.stdout?.on("data", (d) => (out += d));
  return { p, stdout: () => out };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN;
}

function parsePing(out: string, sent: number): RttResult {
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  return { medianMs: quantile(times, 0.5), p90Ms: quantile(times, 0.9), maxMs: times.at(-1) ?? Number.NaN, sent, received: times.length };
}

/** `count` pings 200 ms apart, bounded by a deadline. */
function ping(lab: Lab, ns: string, target: string, count: number): Promise<RttResult> {
  const deadline = Math.ceil(count * 0.2) + 2;
  const { p, stdout } = start(lab, ns, ["ping", "-n", "-i", "0.2", "-c", String(count), "-w", String(deadline), target]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => p.child.kill("SIGKILL"), (deadline + 5) * 1000);
    // ping exits 1 when some replies are missing: the count tells, not the exit code.
    p.exited.then(() => {
      clearTimeout(timer);
      const r = parsePing(stdout(), count);
      if (r.received === 0) reject(new Error(`ping ${target}: no reply of ${count}\n${p.output().slice(-1000)}`));
      else resolve(r);
    });
  });
}

interface IperfRun {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- iperf3's JSON report, read field by field with optional chaining
  json: Record<string, any>;
  busyTicks: number;
  vpnTicks: number;
}

/**
 * One iperf3 run from `b` to the tunnel's target, with a fresh one-shot server in `a`;
 * `during` starts alongside (the ping under load). Retries a refused connection (iperf3 -J
 * reports it inside its JSON) up to three times.
 */
async function iperf(lab: Lab, a: string, b: string, t: Tunnel, args: string[], seconds: number, during?: () => void): Promise<IperfRun> {
  const srv = start(lab, a, ["iperf3", "-s", "-1", "--forceflush", "-B", t.target, "-p", String(IPERF_PORT)]);
  await waitFor("iperf3 server", 10_000, () => {
    if (srv.p.child.exitCode !== null) throw new Error(`iperf3 server exited: ${srv.p.output()}`);
    return srv.stdout().includes("Server listening") ? true : undefined;
  });
  for (let attempt = 1; ; attempt++) {
    const m0 = machineBusyTicks();
    const p0 = t.pids.map(processTicks);
    const cli = start(lab, b, ["iperf3", "-c", t.target, "-p", String(IPERF_PORT), "-t", String(seconds), ...args, "-J"]);
    during?.();
    const out = await finish(cli.p, cli.stdout, (seconds + 20) * 1000, "iperf3 client").catch((e: Error) => {
      // With -J a failed run still prints JSON with "error"; keep it for the message below.
      if (cli.stdout().trim().startsWith("{")) return cli.stdout();
      throw e;
    });
    const busyTicks = machineBusyTicks() - m0;
    const vpnTicks = t.pids.reduce((sum, pid, i) => sum + processTicks(pid) - p0[i], 0);
    const json = JSON.parse(out);
    if (!json.error) return { json, busyTicks, vpnTicks };
    if (attempt >= 3 || !/connect/i.test(json.error)) throw new Error(`iperf3 ${args.join(" ")}: ${json.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function load(r: IperfRun, sum: { bytes: number; seconds: number }, vpn: boolean): LoadResult {
  if (!(sum?.bytes > 0)) throw new Error(`iperf3 received nothing: ${JSON.stringify(r.json.end ?? r.json).slice(0, 500)}`);
  const gb = sum.bytes / 1e9;
  return {
    gbps: (sum.bytes * 8) / sum.seconds / 1e9,
    bytes: sum.bytes,
    seconds: sum.seconds,
    cpuPerGB: r.busyTicks / TICKS / gb,
    vpnCpuPerGB: vpn ? r.vpnTicks / TICKS / gb : null,
  };
}

/** Runs one case once; the lab and everything in it are gone when this settles. */
export async function measureCase(c: Case, o: CaseOptions, seconds: number, round: number, registerLab: (lab: Lab | null) => void): Promise<Sample> {
  const lab = new Lab("be");
  registerLab(lab);
  try {
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.link(a, `${SERVER_UNDERLAY}/24`, b, `${CLIENT_UNDERLAY}/24`);
    const t = await c.setup(lab, a, b, o);
    await waitFor(`a first ping to ${t.target} through ${c.name}`, 15_000, () =>
      lab.exec(b, ["ping", "-c", "1", "-W", "1", t.target]).includes(" 1 received") ? true : undefined,
    );
    const vpn = t.pids.length > 0;
    const la = loadavg();
    const rttIdle = await ping(lab, b, t.target, 5);

    let rttLoad: Promise<RttResult | Error> = Promise.resolve(new Error("no ping under load"));
    const loadPings = Math.max(3, Math.floor((seconds - 1) / 0.2));
    const r1 = await iperf(lab, a, b, t, ["-P", "1", "-b", TCP_RATE_CAP], seconds, () => {
      // Half a second in, once the stream is up to speed; a failure is caught here and
      // rethrown below, so it is never an unhandled rejection.
      rttLoad = new Promise((r) => setTimeout(r, 500))
        .then(() => ping(lab, b, t.target, loadPings))
        .catch((e: Error) => e);
    });
    const rtt = await rttLoad;
    if (rtt instanceof Error) throw new Error(`ping under load: ${rtt.message}`);
    const r4 = await iperf(lab, a, b, t, ["-P", "4", "-b", TCP_RATE_CAP], seconds);
    const ru = await iperf(lab, a, b, t, ["-u", "-b", UDP_RATE, "-l", String(UDP_PAYLOAD)], seconds);
    const received = ru.json.end?.sum_received;
    const sent = ru.json.end?.sum_sent;
    if (received?.lost_percent === undefined) throw new Error("iperf3 -u -J gave no end.sum_received.lost_percent (iperf3 >= 3.10 needed)");
    const udp = load(ru, received, vpn);
    return {
      case: c.id,
      round,
      loadavg: la.map((x) => +x.toFixed(2)),
      tcp1: load(r1, r1.json.end?.sum_received, vpn),
      tcp4: load(r4, r4.json.end?.sum_received, vpn),
      udp: { ...udp, lossPercent: received.lost_percent, packetsSent: sent?.packets ?? 0 },
      rttIdle,
      rttLoad: rtt,
    };
  } finally {
    await lab.close();
    registerLab(null);
  }
}
