// The UAPI socket under load: 100,000 allowed IPs through stock `wg` while `wg show`
// answers, answers longer than any buffer, pipelined requests nobody reads, huge lines,
// stalled clients and too many connections. Root: wg only looks in /var/run/wireguard.
import { execFile, spawn } from "node:child_process";
import { createConnection, type Socket } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKey, encodeKeyHex, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { parseIpNet } from "../protocol/address.js";
import { UAPI_LIMITS, type UapiLimits, type UapiServer, uapiGet, uapiListen, uapiSocketPath } from "./uapi.js";
import { MemoryDevice } from "./memory-device.test-helper.js";

if (process.getuid?.() !== 0) throw new Error("the UAPI tests need root (they serve /var/run/wireguard/<iface>.sock for wg): run them as root");

const run = promisify(execFile);
const wg = async (...args: string[]) => (await run("wg", args, { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 })).stdout;
const tmp = mkdtempSync(join(tmpdir(), "taltun-uapi-scale-"));
const servers: UapiServer[] = [];
let seq = 0;

/** A MemoryDevice served on a fresh interface name; `limits` override the defaults. */
async function serve(limits: Partial<UapiLimits> = {}): Promise<{ iface: string; device: MemoryDevice }> {
  const iface = `tt-x${process.pid % 100000}${seq++}`;
  const device = new MemoryDevice();
  device.privateKey = generatePrivateKey();
  servers.push(await uapiListen(iface, device, { limits }));
  return { iface, device };
}

/** `n` distinct IPv4 prefixes, /32 and /24 mixed, in 10.0.0.0/8 and 172.16.0.0/12. */
function prefixes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i % 3 === 2 ? `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}/32` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`));
}

/** Opens a raw connection to an interface's socket. */
function connect(iface: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = createConnection(uapiSocketPath(iface));
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}

/** Everything a connection receives until it closes. */
function readAll(c: Socket): Promise<string> {
  return new Promise((resolve) => {
    const pieces: Buffer[] = [];
    c.on("data", (d: Buffer) => pieces.push(d));
    c.on("error", () => undefined);
    c.once("close", () => resolve(Buffer.concat(pieces).toString("utf8")));
  });
}

/** The largest delay of a 10 ms timer while `work` runs: how long the event loop was blocked. */
async function eventLoopLag<T>(work: () => Promise<T>): Promise<{ result: T; lagMs: number }> {
  let lagMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lagMs = Math.max(lagMs, now - last - 10);
    last = now;
  }, 10);
  try {
    return { result: await work(), lagMs };
  } finally {
    clearInterval(timer);
  }
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

describe("UAPI at scale", () => {
  const N = 100_000;
  const peer = publicKeyFrom(generatePrivateKey());
  const other = publicKeyFrom(generatePrivateKey());
  let big: { iface: string; device: MemoryDevice };
  const list = prefixes(N);

  beforeAll(async () => {
    big = await serve();
  });

  it("applies `wg setconf` with 100,000 allowed IPs in parts, in order, while `wg show` on another connection answers within 2 s", async () => {
    const conf = join(tmp, "big.conf");
    const lines = ["[Interface]", `PrivateKey = ${encodeKey(big.device.privateKey!)}`, "ListenPort = 51820", "", "[Peer]", `PublicKey = ${encodeKey(peer)}`];
    for (let i = 0; i < N; i += 1000) lines.push(`AllowedIPs = ${list.slice(i, i + 1000).join(", ")}`);
    lines.push("", "[Peer]", `PublicKey = ${encodeKey(other)}`, "AllowedIPs = 100.64.0.2/32", "Endpoint = 198.18.0.2:51820");
    writeFileSync(conf, `${lines.join("\n")}\n`, { mode: 0o600 });

    let setDone = false;
    const showTimes: number[] = [];
    const shows = (async () => {
      while (!setDone) {
        const t = performance.now();
        await wg("show", big.iface, "listen-port");
        showTimes.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = performance.now();
    const { lagMs } = await eventLoopLag(async () => {
      await wg("setconf", big.iface, conf);
      setDone = true;
      await shows;
    });
    const setMs = performance.now() - started;
    console.log(`wg setconf, ${N} allowed IPs: ${setMs.toFixed(0)} ms in ${big.device.applied.length} parts; wg show during it: ${showTimes.length} answers, slowest ${Math.max(...showTimes).toFixed(0)} ms; event loop blocked at most ${lagMs.toFixed(0)} ms`);

    const parts = big.device.applied;
    expect(parts.length).toBeGreaterThan(N / UAPI_LIMITS.setChunkLines - 1);
    expect(parts.slice(0, -1).every((p) => p.more === true)).toBe(true);
    expect(parts.at(-1)!.more).toBeUndefined();
    expect(parts[0].replacePeers).toBe(true);
    expect(parts.slice(1).every((p) => !p.replacePeers)).toBe(true);
    expect(showTimes.length).toBeGreaterThan(0);
    expect(Math.max(...showTimes)).toBeLessThan(2_000);
    expect(lagMs).toBeLessThan(1_000);
    expect(setMs).toBeLessThan(20_000);
    const snap = big.device.snapshot();
    expect(snap.peers.map((p) => [encodeKey(p.publicKey), p.allowedIps.length])).toEqual([[encodeKey(peer), N], [encodeKey(other), 1]]);
  }, 120_000);

  it("`wg show <iface> allowed-ips` lists all 100,000 of them: an answer far longer than any socket buffer, written as the client reads", async () => {
    const started = performance.now();
    const out = await wg("show", big.iface, "allowed-ips");
    console.log(`wg show allowed-ips, ${N} prefixes: ${(performance.now() - started).toFixed(0)} ms, ${out.length} bytes`);
    const [key, ips] = out.split("\n").find((l) => l.startsWith(encodeKey(peer)))!.split("\t");
    expect(key).toBe(encodeKey(peer));
    const shown = ips.split(" ");
    expect(shown).toHaveLength(N);
    expect(new Set(shown)).toEqual(new Set(list));
  }, 60_000);

  it("applies `wg setconf` with 10,000 peers in parts of at most setChunkPeers peers, and `wg show dump` lists them", async () => {
    const s = await serve();
    const keys = Array.from({ length: 10_000 }, () => encodeKey(publicKeyFrom(generatePrivateKey())));
    const conf = join(tmp, "peers.conf");
    const lines = ["[Interface]", `PrivateKey = ${encodeKey(s.device.privateKey!)}`];
    keys.forEach((k, i) => lines.push("", "[Peer]", `PublicKey = ${k}`, `AllowedIPs = 100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, `Endpoint = 198.18.${(i >> 8) & 255}.${i & 255}:51820`, "PersistentKeepalive = 25"));
    writeFileSync(conf, `${lines.join("\n")}\n`, { mode: 0o600 });
    let t = performance.now();
    await wg("setconf", s.iface, conf);
    const setMs = performance.now() - t;
    const parts = s.device.applied;
    expect(Math.max(...parts.map((p) => p.peers.length))).toBeLessThanOrEqual(UAPI_LIMITS.setChunkPeers);
    expect(parts.length).toBeGreaterThanOrEqual(10_000 / UAPI_LIMITS.setChunkPeers);
    t = performance.now();
    const dump = (await wg("show", s.iface, "dump")).trim().split("\n");
    const showMs = performance.now() - t;
    console.log(`wg setconf, 10,000 peers: ${setMs.toFixed(0)} ms in ${parts.length} parts; wg show dump: ${showMs.toFixed(0)} ms`);
    expect(dump).toHaveLength(1 + 10_000);
    expect(dump.slice(1).map((l) => l.split("\t")[0])).toEqual(keys);
    expect(dump[10_000].split("\t").slice(2, 4)).toEqual(["198.18.39.15:51820", "100.64.39.15/32"]);
  }, 60_000);

  it("a client that reads nothing of a long answer is disconnected after writeStallMs, and others are served meanwhile", async () => {
    const s = await serve({ writeStallMs: 500 });
    s.device.applyNow({ replacePeers: false, peers: [{ publicKey: peer, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: list.slice(0, 50_000).map((p) => parseIpNet(p, "mask")) }] });
    const c = await connect(s.iface);
    c.pause(); // reads nothing: the ~1.3 MB answer cannot leave the server's buffers
    c.write("get=1\n\n");
    expect((await uapiGet(s.iface)).peers[0].allowedIps).toHaveLength(50_000);
    await new Promise((r) => setTimeout(r, 1500));
    // Reading now, the client finds what the kernel held, then the end: no errno line.
    const received = readAll(c);
    c.resume();
    const text = await received;
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(1_000_000);
    expect(text.includes("errno=")).toBe(false);
  }, 30_000);
});

describe("UAPI bounds", () => {
  it("pipelined requests whose answers are never read do not make the server buffer them", async () => {
    const s = await serve();
    // About 26 kB per answer: 4000 unread answers would be 100 MB.
    s.device.applyNow({ replacePeers: false, peers: [{ publicKey: publicKeyFrom(generatePrivateKey()), remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: prefixes(1000).map((p) => parseIpNet(p, "mask")) }] });
    const requests = 4000;
    // The client is another process, so its buffers are not counted as ours.
    const client = spawn(process.execPath, ["-e", `
      const c = require("net").createConnection(${JSON.stringify(uapiSocketPath(s.iface))});
      c.on("connect", () => {
        c.pause();
        c.write("get=1\\n\\n".repeat(${requests}));
        process.stdout.write("sent\\n");
        process.stdin.once("data", () => {
          let answers = 0, tail = "";
          c.on("data", (d) => { const t = tail + d; answers += t.split("errno=0\\n\\n").length - 1; tail = t.slice(-8); if (answers >= ${requests}) { console.log(answers); process.exit(0); } });
          c.resume();
        });
      });`], { stdio: ["pipe", "pipe", "inherit"] });
    const out: string[] = [];
    client.stdout.on("data", (d: Buffer) => out.push(d.toString()));
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.external + m.arrayBuffers;
    };
    global.gc?.();
    const before = used();
    while (!out.join("").includes("sent")) await new Promise((r) => setTimeout(r, 20));
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, used() - before);
    }
    console.log(`${requests} pipelined get=1, unread: the server grew by at most ${(peak / 1e6).toFixed(1)} MB`);
    expect(peak).toBeLessThan(30e6);
    // Once the client reads, every answer comes, in order, none lost.
    client.stdin.write("go\n");
    const code = await new Promise<number | null>((resolve) => client.once("exit", resolve));
    expect(code).toBe(0);
    expect(out.join("")).toContain(`${requests}`);
  }, 60_000);

  it("refuses a line longer than maxLineBytes with EMSGSIZE and closes the connection; the daemon serves the next one", async () => {
    const s = await serve();
    for (const request of [`set=1\nallowed_ip=${"1".repeat(1 << 20)}`, `get=1${" ".repeat(100_000)}\n\n`]) {
      const c = await connect(s.iface);
      const answer = readAll(c);
      c.on("error", () => undefined);
      c.write(request);
      expect(await answer).toBe("errno=-90\n\n");
    }
    expect((await uapiGet(s.iface)).privateKey).toEqual(s.device.privateKey);
  });

  it("drops a set=1 that stops halfway after setIdleMs, applying none of it; the set=1 queued behind it goes on", async () => {
    const s = await serve({ setIdleMs: 300 });
    const stalled = await connect(s.iface);
    const stalledAnswer = readAll(stalled);
    stalled.write("set=1\nlisten_port=5\n");
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    const next = await connect(s.iface);
    const nextAnswer = readAll(next);
    next.end("set=1\nfwmark=6\n\n");
    expect(await nextAnswer).toBe("errno=0\n\n");
    expect(performance.now() - t).toBeGreaterThan(150);
    expect(await stalledAnswer).toBe("errno=-110\n\n");
    expect([s.device.listenPort, s.device.fwmark]).toEqual([0, 6]);
  });

  it("when full, closes the connection that has waited on its client the longest to serve a new one: idle clients cannot lock wg out", async () => {
    const s = await serve({ maxConnections: 4 });
    const idle: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      idle.push(await connect(s.iface));
      await new Promise((r) => setTimeout(r, 20)); // in order: idle[0] has waited longest
    }
    const closed = idle.map((c) => readAll(c).then(() => true));
    const stillOpen = (i: number) => Promise.race([closed[i], new Promise((r) => setTimeout(() => r(false), 100))]);
    idle[0].write("get=1\n"); // half a request: waiting on its client, but since later than idle[1]
    await new Promise((r) => setTimeout(r, 20));
    expect((await uapiGet(s.iface)).listenPort).toBe(0);
    expect(await closed[1]).toBe(true);
    expect([await stillOpen(0), await stillOpen(2), await stillOpen(3)]).toEqual([false, false, false]);
    idle.forEach((c) => c.destroy());
  });

  it("when every connection is working (here in set=1 requests), closes a new one at once", async () => {
    const s = await serve({ maxConnections: 4, setIdleMs: 1000 });
    // The first set=1 stalls halfway; the next three queue behind it, none waiting on its client.
    const busy = await Promise.all([0, 1, 2, 3].map(() => connect(s.iface)));
    const answers = busy.map((c) => readAll(c));
    busy[0].write("set=1\nlisten_port=5\n");
    await new Promise((r) => setTimeout(r, 50));
    for (const c of busy.slice(1)) c.write("set=1\nfwmark=6\n\n");
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    expect(await readAll(await connect(s.iface))).toBe("");
    expect(performance.now() - t).toBeLessThan(500);
    expect(await answers[0]).toBe("errno=-110\n\n");
    busy.forEach((c) => c.destroy());
  });

  it("a long request with a bad line keeps the parts applied before it, as wireguard-go does; a short one changes nothing", async () => {
    const s = await serve();
    const key = encodeKeyHex(publicKeyFrom(generatePrivateKey()));
    const good = prefixes(5000).map((p) => `allowed_ip=${p}`);
    const c = await connect(s.iface);
    const answer = readAll(c);
    c.end(`set=1\npublic_key=${key}\n${good.join("\n")}\nallowed_ip=10.0.0.0/33\n${good.join("\n")}\n\n`);
    expect(await answer).toBe("errno=-22\n\n");
    const applied = s.device.snapshot().peers[0].allowedIps.length;
    expect(applied).toBe(2 * UAPI_LIMITS.setChunkLines - 1); // the public_key line came first
    // Ended by the bad line: the device was told it is the last part.
    expect(s.device.applied.at(-1)!.more).toBeUndefined();

    const c2 = await connect(s.iface);
    const answer2 = readAll(c2);
    c2.end(`set=1\nlisten_port=7\npublic_key=${key}\nremove=true\nbogus=1\n\nget=1\n\n`);
    const text = await answer2;
    expect(text.startsWith("errno=-22\n\n")).toBe(true);
    expect(text).toContain(`public_key=${key}`);
    expect(text.endsWith("errno=0\n\n")).toBe(true);
    expect(s.device.listenPort).toBe(0);
  });
});
