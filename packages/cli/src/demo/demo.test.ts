import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config-file.js";
import { CLI, taltun } from "../cli.test-helpers.js";
import { Cleanup } from "./cleanup.js";
import { writeDemoConfigs } from "./configs.js";
import { runDemo } from "./run.js";
import { createTopology, namespaceNames } from "./topology.js";

if (process.getuid?.() !== 0) throw new Error("the demo tests need root (they create network namespaces): run them as root");

const sh = (file: string, args: string[]) => execFileSync(file, args, { encoding: "utf8" });
const namespaces = () => sh("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter(Boolean);
// Other tests on the machine make namespaces too: look only at those of one demo run.
const demoNamespaces = (id: number) => namespaces().filter((n) => n.startsWith("tt-demo-") && n.endsWith(`-${id}`));
const demoDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith("taltun-demo-")).sort();
const taltunChildren = () => sh("ps", ["-eo", "args"]).split("\n").filter((l) => /taltun-demo-.*\.toml/.test(l));
// Ids unlikely to be a live pid, so these namespaces never collide with a real demo's.
let nextId = 4_000_000 + (process.pid % 1000) * 100;

const tmp = mkdtempSync(join(tmpdir(), "taltun-demotest-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("demo topology", () => {
  it("builds a hub and two spokes on 198.18.0.0/15, and leaves nothing after cleanup", async () => {
    const id = nextId++;
    const cleanup = new Cleanup();
    try {
      const t = await createTopology(id, cleanup);
      expect(namespaces()).toEqual(expect.arrayContaining(namespaceNames(id)));
      expect(sh("ip", ["netns", "exec", t.hubNs, "sysctl", "-n", "net.ipv4.ip_forward"]).trim()).toBe("0");
      // Each spoke reaches the hub over its link (one packet, two seconds at most)...
      sh("ip", ["netns", "exec", t.spokes[0].ns, "ping", "-c", "1", "-W", "2", t.spokes[0].hubAddress]);
      // ...but not the other spoke: only the tunnel's relay can join them.
      expect(() => sh("ip", ["netns", "exec", t.spokes[0].ns, "ping", "-c", "1", "-W", "1", t.spokes[1].address])).toThrow();
    } finally {
      expect(await cleanup.run()).toEqual([]);
    }
    expect(namespaces().filter((n) => namespaceNames(id).includes(n))).toEqual([]);
    expect(sh("ip", ["-o", "link"]).includes(`tt${id}`)).toBe(false);
  });

  it("removes what it made when creation fails half-way, and only that", async () => {
    const id = nextId++;
    const [hubNs, aNs] = namespaceNames(id);
    sh("ip", ["netns", "add", aNs]); // taken: creating the topology fails at the second namespace
    const cleanup = new Cleanup();
    try {
      await expect(createTopology(id, cleanup)).rejects.toThrow(/ip netns add tt-demo-a/);
      expect(namespaces()).toContain(hubNs);
      await cleanup.run();
      expect(namespaces()).not.toContain(hubNs);
      expect(namespaces()).toContain(aNs);
    } finally {
      sh("ip", ["netns", "del", aNs]);
    }
  });
});

describe("demo configurations", () => {
  it("are valid configurations with private key files of mode 600", () => {
    const topology = { hubNs: "h", spokes: [{ name: "a", ns: "a", address: "198.18.1.2", hubAddress: "198.18.1.1" }, { name: "b", ns: "b", address: "198.18.2.2", hubAddress: "198.18.2.1" }] };
    const nodes = writeDemoConfigs(topology, 1234567, tmp);
    const configs = nodes.map((n) => loadConfig(n.configFile, {}));
    expect(configs.map((c) => c.interface.mode)).toEqual(["server", "client", "client"]);
    expect(configs.map((c) => c.interface.tunName)).toEqual(["tt1234567hub", "tt1234567a", "tt1234567b"]);
    expect(configs[0].peers.map((p) => p.vip.address)).toEqual(["100.64.0.2", "100.64.0.3"]);
    expect(configs[1].peers[0].endpoint).toBe("198.18.1.1:51820");
    expect(configs[2].peers[0].endpoint).toBe("198.18.2.1:51820");
    for (const f of readdirSync(tmp).filter((f) => f.endsWith(".key"))) expect(statSync(join(tmp, f)).mode & 0o777).toBe(0o600);
    for (const c of configs) for (const n of [c.interface.vip, ...c.peers.flatMap((p) => p.allowedIps)]) expect(n.address).toMatch(/^100\.64\./);
  });
});

describe("taltun demo", () => {
  it("checks its preconditions first and names the fix", async () => {
    // A PATH with everything but iperf3.
    const bin = mkdtempSync(join(tmpdir(), "taltun-bin-"));
    try {
      for (const tool of ["sh", "ip", "ping", "sysctl"]) symlinkSync(sh("sh", ["-c", `command -v ${tool}`]).trim(), join(bin, tool));
      const r = await taltun(["demo"], { env: { PATH: bin } });
      expect(r).toMatchObject({ code: 1, stderr: "taltun: demo needs `iperf3`, which is not installed; run `bash scripts/setup.sh` (as root) to install it\n" });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it("cleans up everything when a step fails (here: taltun up cannot start)", async () => {
    const before = { dirs: demoDirs(), children: taltunChildren() };
    let error: unknown;
    try {
      await runDemo({ seconds: 1, cliPath: fileURLToPath(new URL("./failing-up.fixture.mjs", import.meta.url)) });
    } catch (e) {
      error = e;
    }
    expect(String(error)).toMatch(/did not start|exited/);
    expect(demoNamespaces(process.pid)).toEqual([]);
    expect(demoDirs().filter((d) => !before.dirs.includes(d))).toEqual([]); // nothing new left
    expect(taltunChildren().filter((c) => !before.children.includes(c))).toEqual([]);
    expect(readdirSync("/var/run/wireguard").filter((f) => f.startsWith(`tt${process.pid}`))).toEqual([]);
  });

  it("cleans up everything when its output is closed early (taltun demo | head)", async () => {
    const before = { dirs: demoDirs() };
    const p = spawn(process.execPath, [CLI, "demo", "--seconds", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    // Like `head -1`: read the first chunk, then close the pipe while namespaces are made.
    p.stdout.once("data", () => p.stdout.destroy());
    const code = await new Promise((r) => p.once("exit", (c, s) => r(c ?? s)));
    expect(code).toBe(141);
    expect(err).toMatch(/demo interrupted by SIGPIPE/);
    expect(demoNamespaces(p.pid!)).toEqual([]);
    expect(demoDirs().filter((d) => !before.dirs.includes(d))).toEqual([]);
    expect(readdirSync("/var/run/wireguard").filter((f) => f.startsWith(`tt${p.pid}`))).toEqual([]);
  });

  it("cleans up everything when interrupted", async () => {
    const before = { dirs: demoDirs() };
    const p = spawn(process.execPath, [CLI, "demo", "--seconds", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      // Interrupt while the namespaces are being created: the hardest moment to clean up.
      if (/creating namespaces/.test(out)) p.kill("SIGINT");
    });
    const code = await new Promise((r) => p.once("exit", (c, s) => r(c ?? s)));
    expect(code).toBe(130);
    expect(out).toMatch(/SIGINT: stopping and cleaning up/);
    expect(err).toMatch(/^taltun: demo interrupted by SIGINT/);
    expect(demoNamespaces(p.pid!)).toEqual([]);
    expect(demoDirs().filter((d) => !before.dirs.includes(d))).toEqual([]); // nothing new left
    expect(readdirSync("/var/run/wireguard").filter((f) => f.startsWith(`tt${p.pid}`))).toEqual([]);
  });
});
