/**
 * `taltun demo`: a hub and two spokes, each a `taltun up` in its own network namespace;
 * waits for the handshakes, pings spoke to spoke through the hub's user-space relay,
 * measures throughput with iperf3, prints a summary, and removes everything it created —
 * at the end, on failure, and when interrupted.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { uapiGet, uapiSocketPath } from "@taltun/engine";
import { CliError } from "../errors.js";
import { pidFilePath } from "../pidfile.js";
import { bytes } from "../show-format.js";
import { Cleanup } from "./cleanup.js";
import { type DemoNode, writeDemoConfigs } from "./configs.js";
import { inNs } from "./exec.js";
import { iperf, ping } from "./measure.js";
import { checkPreconditions } from "./preconditions.js";
import { type Child, logTail, startInNs } from "./processes.js";
import { StatusLine } from "./progress.js";
import { createTopology } from "./topology.js";

/** Options of `runDemo`. */
export interface DemoOptions {
  /** Length of the throughput measurement, 1-30 s. */
  readonly seconds: number;
  /** The built CLI to start in each namespace (this bundle's main.js by default). */
  readonly cliPath?: string;
}

const HANDSHAKE_TIMEOUT_MS = 20_000;
const IPERF_PORT = 5201;

/** Runs the whole demo; throws a `CliError` with the reason when a step fails. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const seconds = options.seconds;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) throw new CliError("demo: --seconds must be an integer 1-30");
  const cliPath = options.cliPath ?? fileURLToPath(new URL("./main.js", import.meta.url));
  checkPreconditions(cliPath);
  const id = process.pid;
  const status = new StatusLine();
  const cleanup = new Cleanup();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    status.done(`${signal}: stopping and cleaning up`);
    // The running step sees the abort and throws; `finally` below then cleans up.
    abort.abort(new CliError(`demo interrupted by ${signal}; everything it created is removed`, 128 + constants.signals[signal]));
  };
  // `taltun demo | head` closes our output early: clean up as for Ctrl-C, not die on EPIPE.
  const onOutputClosed = (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") onSignal("SIGPIPE");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  process.stdout.on("error", onOutputClosed);
  const { signal } = abort;
  try {
    const dir = mkdtempSync(join(tmpdir(), "taltun-demo-"));
    cleanup.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    status.update("creating namespaces tt-demo-*-" + id);
    const topology = await createTopology(id, cleanup, signal);
    const nodes = writeDemoConfigs(topology, id, dir);
    status.done(`namespaces ${[topology.hubNs, ...topology.spokes.map((s) => s.ns)].join(", ")} ready; configs in ${dir}`);
    signal.throwIfAborted();
    for (const n of nodes) cleanup.defer(`remove leftovers of ${n.tunName}`, () => removeLeftovers(n.tunName));
    const start = (n: DemoNode) =>
      startInNs(`taltun up ${n.tunName}`, n.ns, [process.execPath, cliPath, "up", n.configFile], join(dir, `${n.tunName}.log`), cleanup);
    // The hub first: a spoke's first initiation to a hub not yet listening is lost, and
    // WireGuard only retries it after REKEY_TIMEOUT (5 s).
    status.update(`starting the hub ${nodes[0].tunName}`);
    const hubChild = start(nodes[0]);
    await waitForLog(hubChild, /interface up/, 15_000, signal);
    const children = [hubChild, ...nodes.slice(1).map(start)];
    const handshakes = await waitForHandshakes(nodes, children, status, signal);
    const [, a, b] = nodes;
    status.update(`ping ${a.vip} -> ${b.vip} through the hub`);
    const p = await ping(topology.spokes[0].ns, b.vip, signal);
    status.done(`ping ${a.vip} -> ${b.vip}: ${p.received}/${p.sent} replies${p.avgMs === null ? "" : `, avg ${p.avgMs} ms`}`);
    const server = startInNs("iperf3 server", b.ns, ["iperf3", "-s", "-1", "--forceflush", "-B", b.vip, "-p", String(IPERF_PORT)], join(dir, "iperf3-server.log"), cleanup);
    await waitForLog(server, /Server listening/, 5000, signal);
    const mbps = await iperf(a.ns, b.vip, IPERF_PORT, seconds, status, signal);
    signal.throwIfAborted();
    status.done(`throughput ${a.vip} -> ${b.vip}: ${mbps === null ? "failed" : `${mbps} Mbit/s`}`);
    const hub = await uapiGet(nodes[0].tunName).catch(() => null);
    // Read back rather than assumed: the relay claim in the summary must be true.
    const forward = (await inNs(topology.hubNs, "sysctl", ["-n", "net.ipv4.ip_forward"])).trim();
    printSummary(nodes, { handshakes, ping: p, mbps, seconds, hubRx: hub?.peers.reduce((s, x) => s + x.rxBytes, 0) ?? null, forward });
    if (p.received === 0) throw new CliError("demo: no ping reply crossed the hub; see the table above");
    if (mbps === null) throw new CliError(`demo: iperf3 through the tunnel failed; its server said:\n${logTail(server)}`);
  } finally {
    const failed = await cleanup.run();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    for (const f of failed) process.stderr.write(`taltun: demo cleanup: ${f}\n`);
  }
}

/** Waits until each spoke has completed a handshake with the hub; returns seconds each took. */
async function waitForHandshakes(nodes: DemoNode[], children: Child[], status: StatusLine, signal: AbortSignal): Promise<number[]> {
  const start = Date.now();
  const took: Array<number | undefined> = nodes.slice(1).map(() => undefined);
  while (took.some((t) => t === undefined)) {
    signal.throwIfAborted();
    const dead = children.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
    if (dead) throw new CliError(`demo: ${dead.name} exited (${dead.process.exitCode ?? dead.process.signalCode}):\n${logTail(dead)}`);
    if (Date.now() - start > HANDSHAKE_TIMEOUT_MS) {
      throw new CliError(`demo: no handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s; hub log:\n${logTail(children[0])}`);
    }
    for (const [i, n] of nodes.slice(1).entries()) {
      if (took[i] !== undefined) continue;
      const snap = await uapiGet(n.tunName).catch(() => null);
      if (snap?.peers[0]?.lastHandshakeMs) took[i] = (Date.now() - start) / 1000;
    }
    status.update(`waiting for handshakes (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    await new Promise((r) => setTimeout(r, 200));
  }
  status.done(`handshakes done: ${took.map((t, i) => `${nodes[i + 1].tunName} in ${t!.toFixed(1)} s`).join(", ")}`);
  return took as number[];
}

/** Waits for a line matching `pattern` in a child's log (a server saying it listens). */
async function waitForLog(child: Child, pattern: RegExp, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(logTail(child, 20))) {
    signal.throwIfAborted();
    const code = child.process.exitCode ?? child.process.signalCode;
    if (code !== null) throw new CliError(`demo: ${child.name} exited (${code}):\n${logTail(child)}`);
    if (Date.now() > deadline) throw new CliError(`demo: ${child.name} did not start:\n${logTail(child)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A child killed hard cannot remove its UAPI socket and pid file; they carry our names only. */
function removeLeftovers(tunName: string): void {
  for (const f of [uapiSocketPath(tunName), pidFilePath(tunName)]) if (existsSync(f)) rmSync(f, { force: true });
}

/** What the summary table reports. */
interface Results {
  handshakes: number[];
  ping: { sent: number; received: number; avgMs: number | null };
  mbps: number | null;
  seconds: number;
  hubRx: number | null;
  /** The hub's net.ipv4.ip_forward. */
  forward: string;
}

function printSummary(nodes: DemoNode[], r: Results): void {
  const [hub, a, b] = nodes;
  const { ping: p } = r;
  const rows: Array<[string, string]> = [
    ...r.handshakes.map((t, i): [string, string] => [`handshake ${nodes[i + 1].tunName} <-> ${hub.tunName}`, `${t.toFixed(1)} s`]),
    [`ping ${a.vip} -> ${b.vip} (via hub)`, `${p.received}/${p.sent} replies${p.avgMs === null ? "" : `, avg ${p.avgMs} ms`}`],
    [`iperf3 ${a.vip} -> ${b.vip}`, r.mbps === null ? "failed" : `${r.mbps} Mbit/s over ${r.seconds} s`],
    ["hub received (all peers)", r.hubRx === null ? "unknown" : bytes(r.hubRx)],
    ["hub ip_forward", r.forward === "0" ? "0: the hub relays spoke to spoke in user space" : `${r.forward}: the kernel forwarded`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  const rule = "-".repeat(Math.max(...lines.map((l) => l.length)));
  process.stdout.write(`\n${rule}\n${lines.join("\n")}\n${rule}\n`);
}
