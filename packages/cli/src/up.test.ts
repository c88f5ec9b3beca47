import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, taltun } from "./cli.test-helpers.js";

if (process.getuid?.() !== 0) throw new Error("the up tests need root (they run taltun up in a network namespace): run them as root");

const ns = `tt-up-${process.pid}`;
const iface = `ttup${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "taltun-up-"));
const env = { ...process.env, TALTUN_RUN_DIR: dir };
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
});

describe("taltun up", () => {
  it("writes its pid file, and removes it when it stops or fails", async () => {
    // In a namespace of its own: once the data plane lands, this really brings up a TUN.
    execFileSync("ip", ["netns", "add", ns]);
    const key = execFileSync("wg", ["genkey"], { encoding: "utf8" }).trim();
    const peer = execFileSync("wg", ["pubkey"], { input: execFileSync("wg", ["genkey"]), encoding: "utf8" }).trim();
    const cfg = join(dir, "up.toml");
    writeFileSync(cfg, `[interface]\nmode = "server"\ntun_name = "${iface}"\nlocal_addr = "0.0.0.0:51820"\nvip = "100.64.0.1/24"\nprivate_key = "${key}"\n\n[[peers]]\nvip = "100.64.0.2"\npublic_key = "${peer}"\n`, { mode: 0o600 });
    child = spawn("ip", ["netns", "exec", ns, process.execPath, CLI, "up", cfg], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let gone = false;
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => ((gone = true), r(code))));
    const pidFile = join(dir, `${iface}.pid`);
    const sock = `/var/run/wireguard/${iface}.sock`;
    const first = await Promise.race([
      exited.then(() => "exited" as const),
      (async () => {
        while (!gone && !existsSync(sock)) await new Promise((r) => setTimeout(r, 100));
        return "running" as const;
      })(),
    ]);
    if (first === "exited") {
      // Before the data plane lands: one clear line, exit 1, no pid file left behind.
      expect(await exited).toBe(1);
      expect(stderr).toMatch(new RegExp(`taltun: ${iface}: data plane not available yet\\n$`));
    } else {
      expect(existsSync(pidFile)).toBe(true);
      const down = await taltun(["down", iface], { env });
      expect(down).toMatchObject({ code: 0, stdout: `${iface} stopped (pid ${child.pid})\n` });
      expect(await exited).toBe(0);
      expect(existsSync(sock)).toBe(false);
    }
    expect(existsSync(pidFile)).toBe(false);
    expect(stderr).not.toContain(key);
  });
});
