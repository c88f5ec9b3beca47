import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { taltun } from "./cli.test-helpers.js";

// Pid files go to a private directory: these tests never touch /var/run/taltun.
const runDir = mkdtempSync(join(tmpdir(), "taltun-run-"));
const env = { TALTUN_RUN_DIR: runDir };
const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(runDir, { recursive: true, force: true });
});

/** Starts a process and waits until it runs; the tests stop only these. */
async function start(argv: string[]): Promise<ChildProcess> {
  const c = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "ignore"] });
  started.push(c);
  await new Promise((r) => c.stdout!.once("data", r));
  return c;
}

describe("taltun down", () => {
  it("says so when there is no pid file", async () => {
    const r = await taltun(["down", "tt-none"], { env });
    expect(r).toMatchObject({ code: 1, stderr: `taltun: tt-none is not running (no ${runDir}/tt-none.pid)\n` });
  });

  it("removes a stale pid file", async () => {
    const c = await start([process.execPath, "-e", "console.log('x')"]);
    await new Promise((r) => c.once("exit", r));
    writeFileSync(join(runDir, "tt-stale.pid"), `${c.pid}\n`);
    const r = await taltun(["down", "tt-stale"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has exited; removed the stale/);
    expect(existsSync(join(runDir, "tt-stale.pid"))).toBe(false);
  });

  it("refuses to signal a process that is not taltun up", async () => {
    const c = await start([process.execPath, "-e", "console.log('x'); setTimeout(() => {}, 30000)"]);
    writeFileSync(join(runDir, "tt-other.pid"), `${c.pid}\n`);
    const r = await taltun(["down", "tt-other"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a `taltun up`; not stopping it/);
    expect(c.exitCode).toBeNull();
    c.kill("SIGKILL");
  });

  it("stops a running taltun up with SIGTERM and waits for it", async () => {
    // A stand-in whose command line looks like `taltun up`, exiting on SIGTERM as up does.
    const script = join(runDir, "taltun-standin.mjs");
    writeFileSync(script, "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 300)); console.log('up'); setInterval(() => {}, 1000);\n");
    const c = await start([process.execPath, script, "up", "tt-run.toml"]);
    writeFileSync(join(runDir, "tt-run.pid"), `${c.pid}\n`);
    const r = await taltun(["down", "tt-run"], { env });
    expect(r).toMatchObject({ code: 0, stdout: `tt-run stopped (pid ${c.pid})\n` });
    expect(c.exitCode ?? (await new Promise((res) => c.once("exit", res)))).toBe(0);
  });
});
