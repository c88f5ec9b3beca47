/**
 * A lab of network namespaces for end-to-end tests, in the spirit of wireguard-go's
 * `tests/netns.sh`: every namespace, veth pair and process it creates is recorded and
 * removed by {@link Lab.close}, also after a failure. Names carry the test's PID so two
 * runs never collide, and only the ranges this project may use are accepted
 * (underlay 198.18.0.0/15, tunnel 100.64.0.0/10, loopback).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Fails with a message naming the fix when the lab cannot run here. */
export function requireLabPreconditions(): void {
  if (process.getuid?.() !== 0) throw new Error("e2e tests need root (namespaces, TUN): run them as root, as CI does");
  if (!existsSync("/dev/net/tun")) throw new Error("e2e tests need /dev/net/tun (modprobe tun)");
  for (const tool of ["ip", "wg", "wireguard-go", "iperf3", "ping"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      throw new Error(`e2e tests need \`${tool}\`: run bash scripts/setup.sh`);
    }
  }
}

const ALLOWED = [/^198\.1[89]\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, /^127\./, /^fd/, /^::1$/];

function checkAddress(cidr: string): void {
  const ip = cidr.split("/")[0];
  if (!ALLOWED.some((re) => re.test(ip))) throw new Error(`lab address ${cidr} is outside 198.18.0.0/15, 100.64.0.0/10 and loopback`);
}

/** Runs a command and returns its stdout; throws with its stderr when it fails or outlasts `timeoutMs`. */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}

/** A process started in a namespace, with its output kept for assertions and diagnostics. */
export interface LabProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

export class Lab {
  private static seq = 0;
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private readonly afterProcesses: Array<() => void> = [];
  readonly tag: string;
  /** A private temporary folder for configuration and key files, removed by {@link close}. */
  readonly dir: string;

  constructor(name: string) {
    this.tag = `${name}${process.pid % 100000}${Lab.seq++}`;
    this.dir = mkdtempSync(join(tmpdir(), `taltun-${this.tag}-`));
  }

  /** Creates a namespace with loopback up; returns its full name. */
  netns(short: string): string {
    const ns = `tt-${this.tag}-${short}`;
    run("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * Gives a namespace its own /etc/hosts: `ip netns exec` mounts /etc/netns/<ns>/hosts over
   * it, so host names resolve there, and only there. Removed by {@link close}.
   */
  hosts(ns: string, lines: string[]): void {
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/hosts`, `${lines.join("\n")}\n`);
  }

  /** Connects two namespaces with a veth pair and gives each end an address. */
  link(a: string, aAddr: string, b: string, bAddr: string, names = ["veth0", "veth0"]): void {
    checkAddress(aAddr);
    checkAddress(bAddr);
    const tmp = `v${this.tag}${Lab.seq++}`.slice(0, 12);
    run("ip", ["link", "add", `${tmp}a`, "netns", a, "type", "veth", "peer", `${tmp}b`, "netns", b]);
    run("ip", ["-n", a, "link", "set", `${tmp}a`, "name", names[0]]);
    run("ip", ["-n", b, "link", "set", `${tmp}b`, "name", names[1]]);
    for (const [ns, dev, addr] of [[a, names[0], aAddr], [b, names[1], bAddr]]) {
      run("ip", ["-n", ns, "addr", "add", addr, "dev", dev]);
      run("ip", ["-n", ns, "link", "set", dev, "up"]);
    }
  }

  /** Runs a command inside a namespace and returns its stdout. */
  exec(ns: string, cmd: string[], input?: string, timeoutMs?: number): string {
    return run("ip", ["netns", "exec", ns, ...cmd], input, timeoutMs);
  }

  /** Starts a long-running process inside a namespace; {@link close} ends it by PID. */
  spawn(ns: string, cmd: string[], env: Record<string, string> = {}): LabProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...cmd], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    const exited = new Promise<number | string>((resolve) => child.on("exit", (code, sig) => resolve(code ?? sig ?? -1)));
    const proc = { child, output: () => out, exited };
    this.processes.push(proc);
    return proc;
  }

  /** Runs `fn` in {@link close}, once this lab's processes have ended (e.g. removing files they could not). */
  afterExit(fn: () => void): void {
    this.afterProcesses.push(fn);
  }

  /** Ends every process this lab started (SIGTERM, then SIGKILL), then deletes its namespaces. */
  async close(): Promise<void> {
    for (const p of this.processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
    await Promise.all(
      this.processes.map((p) =>
        Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000)).then(() => p.child.kill("SIGKILL"))]),
      ),
    );
    for (const fn of this.afterProcesses.splice(0)) fn();
    for (const ns of this.namespaces.splice(0)) {
      try {
        run("ip", ["netns", "del", ns]);
        rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
      } catch {
        // already gone: nothing to clean
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value (not undefined) or `ms` pass. */
export async function waitFor<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
