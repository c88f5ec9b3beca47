import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it, vi } from "vitest";
import { fileURLToPath } from "node:url";
import { runDemo } from "./run.js";

if (process.getuid?.() !== 0) throw new Error("the demo tests need root (they create network namespaces): run them as root");

// Other tests on the machine make namespaces too: look only at this run's.
const demoNamespaces = () =>
  execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith("tt-demo-") && n.endsWith(`-${process.pid}`));

describe("taltun demo, end to end with the built CLI", () => {
  it("waits for handshakes, pings across the hub's user-space relay, measures, prints the summary, and cleans up", async () => {
    const before = { dirs: readdirSync(tmpdir()).filter((d) => d.startsWith("taltun-demo-")) };
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      await runDemo({ seconds: 2, cliPath: fileURLToPath(new URL("../../dist/main.js", import.meta.url)) });
    } finally {
      spy.mockRestore();
    }
    const text = out.join("");
    expect(text).toMatch(/handshakes done: tt\d+a in [\d.]+ s, tt\d+b in [\d.]+ s/);
    expect(text).toMatch(/ping 100\.64\.0\.2 -> 100\.64\.0\.3: 5\/5 replies, avg [\d.]+ ms/);
    expect(text).toMatch(/iperf3 100\.64\.0\.2 -> 100\.64\.0\.3\s+[\d.]+ Mbit\/s over 2 s/);
    expect(text).toMatch(/hub received \(all peers\)\s+[\d.]+ (KiB|MiB|GiB)/);
    expect(text).toMatch(/hub ip_forward\s+0: the hub relays spoke to spoke in user space/);
    expect(demoNamespaces()).toEqual([]);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith("taltun-demo-") && !before.dirs.includes(d))).toEqual([]); // nothing new left
    expect(readdirSync("/var/run/wireguard").filter((f) => f.startsWith(`tt${process.pid}`))).toEqual([]);
  }, 90_000);
});
