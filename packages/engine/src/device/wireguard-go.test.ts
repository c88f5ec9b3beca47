/**
 * Live interop with Debian's wireguard-go (root; fails with the reason otherwise): in a network
 * namespace of its own, wireguard-go and our Device (test/wg-interop-peer.mjs, over UDP on
 * 127.0.0.1) handshake both ways and carry ICMP echo through the tunnel:
 * 1. wireguard-go initiates (a ping from the namespace to our tunnel address): we respond,
 *    open its data and answer the echo request, and the ping succeeds;
 * 2. we initiate and ping wireguard-go's tunnel address: the kernel's echo reply comes
 *    back through wireguard-go, sealed with the keys we derived.
 * Only the namespace's loopback and 100.64.77.0/24 are used; everything is removed after.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, publicKeyOf } from "../protocol/dh.js";

const has = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
/** Why this test cannot run here, or null: a missing precondition fails it, never skips it. */
function missing(): string | null {
  if (process.getuid?.() !== 0) return "it needs root (a network namespace): run it as root, as CI does";
  for (const tool of ["wireguard-go", "wg", "ip"]) if (!has(tool)) return `it needs \`${tool}\`: run bash scripts/setup.sh`;
  if (!existsSync(new URL("../../dist/index.js", import.meta.url))) return "it loads the built engine: run pnpm build first";
  return null;
}

const ns = `tt-wgi-${process.pid}`;
const ifname = `ttwgi${process.pid % 100000}`;
const WG_PORT = 51901;
const OUR_PORT = 51902;
const peerScript = new URL("../../test/wg-interop-peer.mjs", import.meta.url).pathname;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function runPeer(ourPriv: Uint8Array, wgPub: Uint8Array, mode: "initiate" | "respond", onReady?: () => void): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, "node", peerScript, b64(ourPriv), b64(wgPub), String(WG_PORT), String(OUR_PORT), mode], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (onReady && out.includes("ready\n")) {
        const f = onReady;
        onReady = undefined;
        f();
      }
    });
    child.on("error", reject);
    child.on("exit", () => {
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch (e) {
        reject(new Error(`peer printed no result: ${out} (${e})`));
      }
    });
  });
}

describe("live interop with wireguard-go", () => {
  let wg: ChildProcess | undefined;
  let dir = "";
  const ourPriv = generatePrivateKey();
  const wgPriv = generatePrivateKey();

  beforeAll(async () => {
    const why = missing();
    if (why) throw new Error(`live interop with wireguard-go: ${why}`);
    dir = mkdtempSync(join(tmpdir(), "tt-wgi-"));
    writeFileSync(join(dir, "wg.key"), b64(wgPriv) + "\n", { mode: 0o600 });
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    wg = spawn("ip", ["netns", "exec", ns, "wireguard-go", "-f", ifname], { env: { ...process.env, WG_PROCESS_FOREGROUND: "1" }, stdio: "ignore" });
    for (let i = 0; i < 50 && !existsSync(`/var/run/wireguard/${ifname}.sock`); i++) await new Promise((r) => setTimeout(r, 100));
    execFileSync("ip", ["netns", "exec", ns, "wg", "set", ifname, "listen-port", String(WG_PORT), "private-key", join(dir, "wg.key"),
      "peer", b64(publicKeyOf(ourPriv)), "endpoint", `127.0.0.1:${OUR_PORT}`, "allowed-ips", "100.64.77.2/32"]);
    execFileSync("ip", ["-n", ns, "addr", "add", "100.64.77.1/24", "dev", ifname]);
    execFileSync("ip", ["-n", ns, "link", "set", ifname, "up"]);
  }, 20_000);

  afterAll(() => {
    if (wg?.pid) wg.kill();
    try {
      execFileSync("ip", ["netns", "del", ns]);
    } catch {
      // already gone
    }
    rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("wireguard-go initiates; we respond and answer its ping", async () => {
    let pingOk = false;
    const result = await runPeer(ourPriv, publicKeyOf(wgPriv), "respond", () => {
      setTimeout(() => {
        try {
          execFileSync("ip", ["netns", "exec", ns, "ping", "-c", "2", "-W", "2", "100.64.77.2"], { stdio: "ignore" });
          pingOk = true;
        } catch {
          pingOk = false;
        }
      }, 200);
    });
    expect(result.handshakes).toContain("responder");
    expect(result.echoRequestsAnswered as number).toBeGreaterThanOrEqual(1);
    expect(pingOk).toBe(true);
  }, 20_000);

  it("we initiate; wireguard-go answers and our ping comes back", async () => {
    const result = await runPeer(ourPriv, publicKeyOf(wgPriv), "initiate");
    expect(result.handshakes).toContain("initiator");
    expect(result.echoRepliesReceived as number).toBeGreaterThanOrEqual(1);
    expect(result.rejected).toEqual([]);
  }, 20_000);
});
