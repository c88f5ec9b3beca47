/**
 * End-to-end throughput, side by side in one run (DESIGN §4): iperf3 TCP between two
 * network namespaces over a bare veth (the limit), and through each VPN pairing. Reports
 * throughput, CPU seconds per GB (the whole machine's, and the VPN processes' own) and the
 * ratio to wireguard-go. Every run is bounded (iperf3 -t) and every namespace removed.
 *
 *   pnpm --filter @taltun/benchmarks run bench:tunnel [seconds]
 */
import { readFileSync } from "node:fs";
import { Lab, requireLabPreconditions, waitFor } from "@taltun/e2e/lab";
import { startWireguardGo, wgKeyPair } from "@taltun/e2e/wireguard-go";
import { tunnelScenarios } from "./tunnel-scenarios.js";

/** What a scenario built: the address iperf3 targets and the processes that carry the tunnel. */
export interface Tunnel {
  target: string;
  pids: number[];
}

/** One pairing to measure: it sets up namespace `a` (server side) and `b` (client side). */
export interface Scenario {
  name: string;
  setup(lab: Lab, a: string, b: string): Promise<Tunnel>;
}

const TICKS = 100; // USER_HZ on Linux

function machineBusyTicks(): number {
  const [, ...f] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return user + nice + system + irq + softirq + steal;
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

interface Row {
  name: string;
  gbps: number;
  cpuPerGB: number;
  vpnCpuPerGB: number;
}

async function measure(s: Scenario, seconds: number): Promise<Row> {
  const lab = new Lab("bt");
  try {
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.link(a, "198.18.20.1/24", b, "198.18.20.2/24");
    const t = await s.setup(lab, a, b);
    lab.spawn(a, ["iperf3", "-s", "-1", "-B", t.target]);
    await waitFor(`ping ${t.target} through ${s.name}`, 15_000, () =>
      lab.exec(b, ["ping", "-c", "1", "-W", "1", t.target]).includes("1 received") ? true : undefined,
    );
    const m0 = machineBusyTicks();
    const p0 = t.pids.map(processTicks);
    // With -J, iperf3 may report "unable to connect" inside its JSON: retry until a run completes.
    const received = await waitFor("iperf3 client", 10_000, () => {
      const r = JSON.parse(lab.exec(b, ["iperf3", "-c", t.target, "-t", String(seconds), "-O", "1", "-J"]));
      if (r.error) throw new Error(r.error);
      return r.end?.sum_received as { bytes: number; bits_per_second: number } | undefined;
    });
    const m1 = machineBusyTicks();
    const vpnTicks = t.pids.map(processTicks).reduce((sum, v, i) => sum + v - p0[i], 0);
    const gb = received.bytes / 1e9;
    return {
      name: s.name,
      gbps: received.bits_per_second / 1e9,
      cpuPerGB: (m1 - m0) / TICKS / gb,
      vpnCpuPerGB: vpnTicks / TICKS / gb,
    };
  } finally {
    await lab.close();
  }
}

/** The baseline pairings; Taltun's come from tunnel-scenarios.ts. */
const baselines: Scenario[] = [
  { name: "bare veth (limit)", setup: async () => ({ target: "198.18.20.1", pids: [] }) },
  {
    name: "wireguard-go <-> wireguard-go",
    async setup(lab, a, b) {
      const ka = wgKeyPair();
      const kb = wgKeyPair();
      const pa = await startWireguardGo(lab, a, {
        ifname: `bwa${lab.tag}`.slice(0, 15),
        privateKey: ka.privateKey,
        listenPort: 51820,
        address: "100.64.20.1/24",
        peers: [{ publicKey: kb.publicKey, allowedIps: ["100.64.20.2/32"] }],
      });
      const pb = await startWireguardGo(lab, b, {
        ifname: `bwb${lab.tag}`.slice(0, 15),
        privateKey: kb.privateKey,
        address: "100.64.20.2/24",
        peers: [{ publicKey: ka.publicKey, endpoint: "198.18.20.1:51820", allowedIps: ["100.64.20.0/24"] }],
      });
      return { target: "100.64.20.1", pids: [pa.child.pid ?? 0, pb.child.pid ?? 0] };
    },
  },
];

async function main(): Promise<void> {
  requireLabPreconditions();
  const seconds = Number(process.argv[2] ?? 5);
  const rows: Row[] = [];
  for (const s of [...baselines, ...tunnelScenarios]) {
    process.stderr.write(`measuring ${s.name} (${seconds} s)...\n`);
    try {
      rows.push(await measure(s, seconds));
    } catch (e) {
      console.error(`${s.name}: ${(e as Error).message}`);
    }
  }
  const wg = rows.find((r) => r.name.startsWith("wireguard-go <-> wireguard-go"));
  console.log(`\nEnd-to-end TCP throughput, iperf3 -t ${seconds}, one run, ${new Date().toISOString()}`);
  console.table(
    rows.map((r) => ({
      scenario: r.name,
      "Gbit/s": r.gbps.toFixed(2),
      "CPU s/GB (machine)": r.cpuPerGB.toFixed(1),
      "CPU s/GB (VPN processes)": r.vpnCpuPerGB ? r.vpnCpuPerGB.toFixed(1) : "-",
      "x wireguard-go": wg ? (r.gbps / wg.gbps).toFixed(2) : "-",
    })),
  );
}

await main();
