/**
 * The data plane's two promises, measured under real load: FFI calls per packet (one
 * system-call batch and one AEAD batch per up to 64 packets) and no allocation per
 * packet (each worker's V8 heap stays flat while millions of packets pass).
 *
 * A Taltun interface started through the engine API (datapath-node.ts) in one namespace,
 * a `taltun up` peer in another, iperf3 both ways through the tunnel, bounded in seconds.
 *
 *   pnpm --filter @taltun/benchmarks run bench:datapath [seconds]
 *
 * `pnpm bench` runs it as its `datapath` suite (runDatapathBench), with 2 s each way.
 */
import { fileURLToPath } from "node:url";
import { Lab, requireLabPreconditions, waitFor } from "@taltun/e2e/lab";
import { startTaltun } from "@taltun/e2e/taltun";
import { wgKeyPair } from "@taltun/e2e/wireguard-go";

type Sample = Record<string, number>;

/** Runs the data-plane suite for `seconds` each way, prints its table and returns its headline figures. */
export async function runDatapathBench(o: { seconds?: number } = {}): Promise<Record<string, number>> {
  requireLabPreconditions();
  const seconds = o.seconds ?? 5;
  const lab = new Lab("dpb");
  // Interrupted (Ctrl-C, or the smoke test's time limit): remove the lab, then exit.
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    void lab.close().finally(() => process.exit(128 + (sig === "SIGINT" ? 2 : 15)));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.link(a, "198.18.22.1/24", b, "198.18.22.2/24");
    const ka = wgKeyPair();
    const kb = wgKeyPair();
    const config = {
      interface: { mode: "server", tun_name: `dpa${lab.tag}`.slice(0, 15), local_addr: "0.0.0.0:51820", vip: "100.64.22.1/24", private_key: ka.privateKey },
      peers: [{ vip: "100.64.22.2", public_key: kb.publicKey }],
    };
    const node = lab.spawn(a, [process.execPath, "--import", "tsx", new URL("./datapath-node.ts", import.meta.url).pathname, JSON.stringify(config)]);
    await waitFor("the measured interface", 15_000, () => (node.output().includes("ready") ? true : undefined));
    await startTaltun(lab, b, {
      mode: "client",
      tunName: `dpb${lab.tag}`.slice(0, 15),
      localAddr: "0.0.0.0:0",
      vip: "100.64.22.2/24",
      privateKey: kb.privateKey,
      peers: [{ vip: "100.64.22.1", publicKey: ka.publicKey, endpoint: "198.18.22.1:51820", allowedIps: ["100.64.22.0/24"] }],
    });
    await waitFor("a first ping", 15_000, () => (lab.exec(b, ["ping", "-c", "1", "-W", "1", "100.64.22.1"]).includes(" 1 received") ? true : undefined));
    for (const reverse of [false, true]) {
      lab.spawn(a, ["iperf3", "-s", "-1", "-B", "100.64.22.1"]);
      // Bounded: -t seconds, a 50 Gbit/s cap (bytes <= rate x seconds), a kill after seconds + 20.
      await waitFor("iperf3", 10_000, () =>
        lab.exec(b, ["iperf3", "-c", "100.64.22.1", "-t", String(seconds), "-b", "50G", ...(reverse ? ["-R"] : [])], undefined, (seconds + 20) * 1000),
      );
    }
    node.child.kill("SIGTERM");
    await node.exited;
    const samples = JSON.parse(node.output().trim().split("\n").pop() ?? "[]") as Sample[];
    return report(samples, seconds);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await lab.close();
  }
}

/** Lowest and highest heap seen from `from` on: a per-packet allocation shows as a sawtooth of megabytes. */
function heapRange(samples: Sample[], from: Sample): string {
  const heaps = samples.filter((s) => s.t >= from.t).map((s) => s.heapUsedKiB);
  return `${Math.min(...heaps)} / ${Math.max(...heaps)}`;
}

function report(samples: Sample[], seconds: number): Record<string, number> {
  const first = samples.find((s) => s.heapSamples >= 3 && s.udpDatagrams + s.tunPackets > 1000) ?? samples[0];
  const last = samples[samples.length - 1];
  const packets = last.udpDatagrams + last.tunPackets;
  const between = packets - (first.udpDatagrams + first.tunPackets);
  console.log(`\nData plane under iperf3 load (${seconds} s each way), one run, ${new Date().toISOString()}`);
  console.table({
    "packets through the measured interface": packets,
    "  received from UDP / read from TUN": `${last.udpDatagrams} / ${last.tunPackets}`,
    "  delivered to TUN / sent to UDP": `${last.deliveredToTun} / ${last.sent}`,
    "I/O FFI calls (recv, read, write, send, incl. empty polls)": last.ioCalls,
    "I/O FFI calls per packet": (last.ioCalls / packets).toFixed(3),
    "AEAD batch calls per packet": (last.aeadCalls / packets).toFixed(3),
    "packets per AEAD batch": (packets / Math.max(1, last.aeadCalls)).toFixed(1),
    "worker heap after warm-up (KiB, all workers)": first.heapUsedKiB,
    "worker heap at the end (KiB, all workers)": last.heapUsedKiB,
    "worker heap min / max after warm-up (KiB)": heapRange(samples, first),
    "packets between the two heap samples": between,
    "heap bytes per packet between them": between > 0 ? (((last.heapUsedKiB - first.heapUsedKiB) * 1024) / between).toFixed(4) : "-",
    "drops (auth / replay / no keypair / no route / no session / ring full)": `${last.droppedAuth} / ${last.droppedReplay} / ${last.droppedNoKeypair} / ${last.droppedNoRoute} / ${last.droppedNoSession} / ${last.droppedRingFull}`,
    "UDP GRO trains received / packets per train": `${last.groTrains ?? 0} / ${last.groTrains ? (last.udpDatagrams / last.groTrains).toFixed(1) : "-"}`,
    "GSO sends refused (sent one by one) / datagrams cut short": `${last.gsoFallbacks ?? 0} / ${last.droppedTruncated ?? 0}`,
  });
  if (between <= 0) throw new Error(`datapath: no packets between the heap samples (${samples.length} samples)`);
  return {
    packets,
    "I/O FFI calls per packet": last.ioCalls / packets,
    "AEAD batch calls per packet": last.aeadCalls / packets,
    "heap bytes per packet": ((last.heapUsedKiB - first.heapUsedKiB) * 1024) / between,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runDatapathBench({ seconds: Number(process.argv[2] ?? 5) });
}
