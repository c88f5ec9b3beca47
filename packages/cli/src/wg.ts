/**
 * `taltun-wg [-f|--foreground] IFNAME`: Taltun with wireguard-go's command line, so that
 * wg-quick and scripts written for wireguard-go run it unchanged
 * (`WG_QUICK_USERSPACE_IMPLEMENTATION=taltun-wg`). It creates TUN IFNAME (MTU 1420, down,
 * no address) and `/var/run/wireguard/IFNAME.sock`, then detaches once both exist, so the
 * next command can configure it; keys, port and peers come through the UAPI (`wg`),
 * address, MTU and routes from outside (`ip`). It exits when its TUN is deleted, or on
 * SIGTERM/SIGINT, removing its socket. `TALTUN_METRICS_ADDR` (`ip:port`, or a port alone
 * for loopback) serves Prometheus metrics, as `metrics_addr` does for `taltun up`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { createLogger, type HostPort, type LogLevel, parseMetricsAddr, type RunningInterface, startWgInterface, VERSION } from "@taltun/engine";

const USAGE = "Usage: taltun-wg [-f/--foreground] INTERFACE-NAME";
/** How long the parent waits for the daemon to have its TUN device and socket. */
const READY_MS = 30_000;
/** Marks the detached child, which reports readiness over IPC. */
const DAEMON_ENV = "TALTUN_WG_DAEMON";

/** LOG_LEVEL as wireguard-go reads it: verbose (or debug), error (the default), silent. */
function logLevel(): LogLevel {
  const v = process.env.LOG_LEVEL;
  if (v === "verbose" || v === "debug") return "debug";
  if (v === "silent") return "silent";
  return "error";
}

function fail(message: string, code = 1): never {
  process.stderr.write(`taltun-wg: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv: string[]): { foreground: boolean; name: string } {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    process.stdout.write(`taltun-wg v${VERSION} (WireGuard userspace implementation, wireguard-go's command line)\n`);
    process.exit(0);
  }
  let foreground = process.env.WG_PROCESS_FOREGROUND === "1";
  const rest = argv.filter((a) => {
    if (a !== "-f" && a !== "--foreground") return true;
    foreground = true;
    return false;
  });
  if (rest.length !== 1 || rest[0].startsWith("-")) fail(USAGE, 2);
  const name = rest[0];
  if (!/^[^\s/:]{1,15}$/.test(name) || name === "." || name === "..") fail(`invalid interface name ${JSON.stringify(name.slice(0, 32))}`, 2);
  return { foreground, name };
}

/** TALTUN_METRICS_ADDR, checked before anything starts; null when unset. */
function metricsAddr(): HostPort | null {
  const v = process.env.TALTUN_METRICS_ADDR;
  if (v === undefined || v === "") return null;
  try {
    return parseMetricsAddr(v);
  } catch (e) {
    return fail(`TALTUN_METRICS_ADDR: ${(e as Error).message} (got ${JSON.stringify(v.slice(0, 64))})`, 2);
  }
}

/** Starts a copy of this command in the background and waits until it is ready (or failed). */
function detach(name: string): void {
  // As wireguard-go: the daemon keeps standard output and error only when LOG_LEVEL is set.
  const keepOutput = process.env.LOG_LEVEL !== undefined && logLevel() !== "silent";
  const out = keepOutput ? "inherit" : openSync("/dev/null", "w");
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, process.argv[1], "--foreground", name], {
    detached: true,
    stdio: ["ignore", out, out, "ipc"],
    env: { ...process.env, [DAEMON_ENV]: "1" },
  });
  const timer = setTimeout(() => fail(`the background process did not create ${name} within ${READY_MS / 1000} s`), READY_MS);
  child.once("message", (m: { ready?: boolean; error?: string }) => {
    clearTimeout(timer);
    if (m.error) fail(m.error);
    child.disconnect();
    child.unref();
    process.exit(0);
  });
  child.once("exit", (code) => fail(`the background process exited (${code}) before ${name} was ready`));
}

async function run(name: string, metrics: HostPort | null): Promise<void> {
  const logger = createLogger({ level: logLevel() }).child({ interface: name });
  let tun: RunningInterface | undefined;
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1); // a second signal: the user will not wait
    stopping = true;
    logger.info("stopping", { signal });
    void tun?.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    tun = await startWgInterface(name, { logger, metricsAddr: metrics });
  } catch (e) {
    const message = `cannot create ${name}: ${e instanceof Error ? e.message : String(e)}`;
    if (process.send) process.send({ error: message }, () => process.exit(1));
    else fail(message);
    return;
  }
  if (stopping) void tun.stop();
  if (process.send) {
    process.send({ ready: true });
    process.disconnect?.();
  }
  try {
    await tun.done;
  } catch (e) {
    logger.error("interface failed", { error: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  }
  process.exit(0);
}

const { foreground, name } = parseArgs(process.argv.slice(2));
const metrics = metricsAddr();
if (foreground || process.env[DAEMON_ENV] === "1") await run(name, metrics);
else detach(name);
