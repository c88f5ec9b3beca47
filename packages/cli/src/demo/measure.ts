/** The demo's measurements through the tunnel: ping (latency, loss) and iperf3 (throughput). */
import { spawn } from "node:child_process";
import { CommandError, inNs } from "./exec.js";
import type { StatusLine } from "./progress.js";

/** What `ping` reported. */
export interface PingResult {
  readonly sent: number;
  readonly received: number;
  /** Average round-trip time in ms, null when nothing came back. */
  readonly avgMs: number | null;
}

/** Reads the summary lines of iputils `ping`. */
export function parsePing(out: string): PingResult {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { sent: Number(counts?.[1] ?? 0), received: Number(counts?.[2] ?? 0), avgMs: rtt ? Number(rtt[1]) : null };
}

/** Pings `to` from namespace `ns`: `count` packets, 0.2 s apart, bounded in time. */
export async function ping(ns: string, to: string, signal: AbortSignal, count = 5): Promise<PingResult> {
  const out = await inNs(ns, "ping", ["-c", String(count), "-i", "0.2", "-W", "2", "-n", to], (count + 5) * 1000, signal).catch((e: unknown) => {
    signal.throwIfAborted();
    // No reply at all makes ping exit 1; its summary is still the answer.
    return e instanceof CommandError ? e.stdout : String(e);
  });
  return parsePing(out);
}

/** Mbit/s from one iperf3 interval or summary line (`-f m`), with `receiver` when it is the final one. */
export function parseIperfLine(line: string): { mbps: number; receiver: boolean } | null {
  const m = /sec\s+[\d.]+ \w?Bytes\s+([\d.]+) Mbits\/sec/.exec(line);
  return m ? { mbps: Number(m[1]), receiver: /receiver\s*$/.test(line) } : null;
}

/**
 * Runs `iperf3 -c` in `ns` against a server at `to` for `seconds`, updating `status` each
 * second with the current rate; returns the receiver's average in Mbit/s (null on failure).
 * A timer kills the client if it overruns, and an abort kills it at once, so the load
 * always stops.
 */
export function iperf(ns: string, to: string, port: number, seconds: number, status: StatusLine, signal: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", ns, "iperf3", "-c", to, "-p", String(port), "-t", String(seconds), "-i", "1", "-f", "m", "--forceflush"], {
      stdio: ["ignore", "pipe", "pipe"],
      signal,
    });
    p.on("error", () => {}); // an abort kills it; "exit" below still settles
    const killer = setTimeout(() => p.kill("SIGKILL"), (seconds + 10) * 1000);
    let result: number | null = null;
    let second = 0;
    let buf = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const r = parseIperfLine(line);
        if (r?.receiver) result = r.mbps;
        else if (r && !/sender\s*$/.test(line) && second < seconds) status.update(`throughput: ${++second}/${seconds} s  ${r.mbps.toFixed(0)} Mbit/s`);
      }
    });
    p.stderr.resume();
    p.once("exit", () => {
      clearTimeout(killer);
      resolve(result);
    });
  });
}
