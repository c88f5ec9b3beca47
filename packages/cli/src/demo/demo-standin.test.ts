import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { runDemo } from "./run.js";

if (process.getuid?.() !== 0) throw new Error("the demo tests need root (they create network namespaces): run them as root");

const standin = fileURLToPath(new URL("./wg-standin.fixture.mjs", import.meta.url));
// Other tests on the machine make namespaces too: look only at this run's.
const demoNamespaces = () =>
  execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith("tt-demo-") && n.endsWith(`-${process.pid}`));

describe("taltun demo, end to end with wireguard-go standing in for the data plane", () => {
  it("waits for handshakes, pings across the hub, measures, prints the summary, and cleans up", async () => {
    const before = { dirs: readdirSync(tmpdir()).filter((d) => d.startsWith("taltun-demo-")) };
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      await runDemo({ seconds: 2, cliPath: standin });
    } finally {
      spy.mockRestore();
    }
    const text = out.join("");
    expect(text).toMatch(/handshakes done: tt\d+a in [\d.]+ s, tt\d+b in [\d.]+ s/);
    expect(text).toMatch(/ping 100\.64\.0\.2 -> 100\.64\.0\.3: 5\/5 replies, avg [\d.]+ ms/);
    expect(text).toMatch(/iperf3 100\.64\.0\.2 -> 100\.64\.0\.3\s+[\d.]+ Mbit\/s over 2 s/);
    expect(text).toMatch(/hub received \(all peers\)\s+[\d.]+ (KiB|MiB|GiB)/);
    expect(text).toMatch(/hub ip_forward\s+1: the kernel forwarded/); // wireguard-go cannot relay in user space
    expect(demoNamespaces()).toEqual([]);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith("taltun-demo-") && !before.dirs.includes(d))).toEqual([]); // nothing new left
    expect(readdirSync("/var/run/wireguard").filter((f) => f.startsWith(`tt${process.pid}`))).toEqual([]);
  });
});
