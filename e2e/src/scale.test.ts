/**
 * Allowed IPs and peers at scale on a running Taltun hub (issues 10 and 12), driven by
 * stock `wg` as a user would: `wg setconf` with 100,000 allowed IPs on one peer while
 * `wg show` keeps answering and a spoke's session and handshakes go on; `wg show
 * allowed-ips` listing all of them; 10,000 peers added with `wg addconf` (the tables were
 * once sized for 64) and listed by `wg show dump`; `wg setconf` back to one peer.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, type LabProcess, requireLabPreconditions } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { type KeyPair, wgKeyPair } from "./wireguard-go.js";

const NET = 97;
const HUB = `198.18.${NET}.1`;
const SPOKE = `198.18.${NET}.2`;
const HUB_VIP = `100.64.${NET}.1`;
const SPOKE_VIP = `100.64.${NET}.2`;
const SPOKE_PORT = 51821;

/** A random public key: any 32 bytes will do for a peer that never answers. */
const randomKey = () => randomBytes(32).toString("base64");
/** Tunnel-range /32s for the big peer: 100.96.0.0 on, clear of the lab's 100.64.<NET>.0/24. */
const bigPrefix = (i: number) => `100.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;

/** Runs a command in a namespace without blocking this process (the hub's answers are what is timed). */
function execAsync(ns: string, cmd: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, ...cmd], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${cmd.join(" ")} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
  });
}

/** Resident memory of a process in MB. */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/** Runs `wg show <iface> <what>` every 100 ms until `until` settles; returns each answer's time. */
async function showWhile(ns: string, iface: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const times: number[] = [];
  while (!done) {
    const t = performance.now();
    await execAsync(ns, ["wg", "show", iface, "latest-handshakes"]);
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 100));
  }
  return times;
}

/** Times (ms) of the hub's log lines that match `re` ("2026-11-30T11:27:37.115Z INFO  <message> key=value ..."), with the match. */
function logged(output: string, re: RegExp): { at: number; m: RegExpMatchArray }[] {
  return output.split("\n").flatMap((line) => {
    const m = line.match(re);
    const at = Date.parse(line.slice(0, 24));
    return m && Number.isFinite(at) ? [{ at, m }] : [];
  });
}

/** The times (Unix seconds, from `ping -D`) of the echo replies in a ping's output. */
const replyTimes = (output: string) => [...output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]));

describe("allowed IPs and peers at scale on a running hub", () => {
  const lab = new Lab("sc");
  let hub = "";
  let spoke = "";
  let hubIf = "";
  let hubProc: LabProcess;
  let hubKeys: KeyPair;
  let spokeKeys: KeyPair;

  beforeAll(async () => {
    requireLabPreconditions();
    hub = lab.netns("hub");
    spoke = lab.netns("spoke");
    lab.link(hub, `${HUB}/24`, spoke, `${SPOKE}/24`);
    hubKeys = wgKeyPair();
    spokeKeys = wgKeyPair();
    hubIf = `h${NET}${lab.tag}`.slice(0, 15);
    hubProc = await startTaltun(lab, hub, {
      mode: "server", tunName: hubIf, localAddr: "0.0.0.0:51820", vip: `${HUB_VIP}/24`, privateKey: hubKeys.privateKey,
      peers: [{ vip: SPOKE_VIP, publicKey: spokeKeys.publicKey }],
    });
    await startTaltun(lab, spoke, {
      mode: "client", tunName: `s${NET}${lab.tag}`.slice(0, 15), localAddr: `0.0.0.0:${SPOKE_PORT}`, vip: `${SPOKE_VIP}/24`, privateKey: spokeKeys.privateKey,
      peers: [{ vip: HUB_VIP, publicKey: hubKeys.publicKey, endpoint: `${HUB}:51820`, allowedIps: [`100.64.${NET}.0/24`] }],
    });
    await execAsync(spoke, ["ping", "-c", "1", "-W", "5", HUB_VIP]);
  });
  afterAll(() => lab.close());

  const N = 100_000;
  const big = randomKey();

  it("`wg setconf` with 100,000 allowed IPs on one peer: `wg show` answers within 2 s throughout, the hub's handshake with the spoke completes meanwhile", async () => {
    const conf = join(lab.dir, "big.conf");
    const lines = ["[Interface]", `PrivateKey = ${hubKeys.privateKey}`, "ListenPort = 51820", "", "[Peer]", `PublicKey = ${spokeKeys.publicKey}`, `AllowedIPs = ${SPOKE_VIP}/32`, `Endpoint = ${SPOKE}:${SPOKE_PORT}`, "", "[Peer]", `PublicKey = ${big}`];
    for (let i = 0; i < N; i += 1000) lines.push(`AllowedIPs = ${Array.from({ length: 1000 }, (_, k) => bigPrefix(i + k)).join(", ")}`);
    writeFileSync(conf, `${lines.join("\n")}\n`, { mode: 0o600 });
    const rssBefore = rssMb(hubProc.child.pid!);

    // The hub pings the spoke throughout: setconf replaces every peer, the spoke's among them,
    // so the next ping needs a new handshake, which the hub must carry out while it applies.
    const ping = lab.spawn(hub, ["ping", "-D", "-i", "0.1", "-c", "100", "-W", "1", SPOKE_VIP]);
    await new Promise((r) => setTimeout(r, 1000));
    const t = performance.now();
    const set = execAsync(hub, ["wg", "setconf", hubIf, conf]);
    const shows = await showWhile(hub, hubIf, set);
    await set;
    const setMs = performance.now() - t;
    await ping.exited;
    const rssAfter = rssMb(hubProc.child.pid!);
    // When the hub applied the request (from its log), and when it completed handshakes with the spoke.
    const log = hubProc.output();
    const applied = logged(log, /uapi set applied .*replacePeers=true .*ms=(\d+)/).at(-1)!;
    const [begun, ended] = [applied.at - Number(applied.m[1]), applied.at];
    const handshakes = logged(log, new RegExp(`handshake completed .*peer=${spokeKeys.publicKey.replace(/[+/]/g, "\\$&")}`)).map((h) => h.at);
    const replies = replyTimes(ping.output()).map((s) => s * 1000);
    const during = handshakes.filter((h) => h >= begun && h <= ended);
    console.log(
      `wg setconf, ${N} allowed IPs: ${setMs.toFixed(0)} ms (${ended - begun} ms applying); wg show during it: ${shows.length} answers, slowest ${Math.max(...shows).toFixed(0)} ms; ` +
        `handshakes with the spoke while applying: ${during.map((h) => `+${h - begun} ms`).join(", ") || "none"}; ping replies while applying: ${replies.filter((r) => r >= begun && r <= ended).length}, after: ${replies.filter((r) => r > ended).length}; ` +
        `hub RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB`,
    );
    expect(shows.length).toBeGreaterThan(0);
    expect(Math.max(...shows)).toBeLessThan(2_000);
    expect(setMs).toBeLessThan(30_000);
    // setconf dropped the spoke's session at its start; the hub's next ping made a new one
    // while the rest of the request was still being applied, and traffic flowed over it.
    expect(during.length).toBeGreaterThan(0);
    expect(replies.filter((r) => r >= begun && r <= ended).length).toBeGreaterThan(0);
    expect(replies.filter((r) => r > ended).length).toBeGreaterThan(0);
  }, 180_000);

  it("`wg show <iface> allowed-ips` lists the 100,000 whole", async () => {
    const t = performance.now();
    const out = await execAsync(hub, ["wg", "show", hubIf, "allowed-ips"]);
    const ms = performance.now() - t;
    const mine = out.split("\n").find((l) => l.startsWith(big))!.split("\t")[1].split(" ");
    console.log(`wg show allowed-ips: ${ms.toFixed(0)} ms, ${out.length} bytes`);
    expect(mine).toHaveLength(N);
    expect(mine[0]).toBe(bigPrefix(0));
    expect(new Set(mine).size).toBe(N);
    expect(mine.includes(bigPrefix(N - 1))).toBe(true);
  }, 60_000);

  it("10,000 more peers by `wg addconf` while the spoke pings on; `wg show dump` lists them; `wg set` adds one more; `wg setconf` goes back to one", async () => {
    const keys = Array.from({ length: 10_000 }, randomKey);
    const conf = join(lab.dir, "peers.conf");
    const lines: string[] = [];
    keys.forEach((k, i) => lines.push("[Peer]", `PublicKey = ${k}`, `AllowedIPs = 100.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, `Endpoint = 198.18.${200 + (i >> 8)}.${i & 255}:51820`, ""));
    writeFileSync(conf, lines.join("\n"), { mode: 0o600 });
    const rssBefore = rssMb(hubProc.child.pid!);
    const before = (await execAsync(hub, ["wg", "show", hubIf, "peers"])).trim().split("\n").length;

    const ping = lab.spawn(spoke, ["ping", "-D", "-i", "0.2", "-c", "40", "-W", "1", HUB_VIP]);
    await new Promise((r) => setTimeout(r, 500));
    let t = performance.now();
    const add = execAsync(hub, ["wg", "addconf", hubIf, conf]);
    const shows = await showWhile(hub, hubIf, add);
    await add;
    const addMs = performance.now() - t;

    t = performance.now();
    const dump = (await execAsync(hub, ["wg", "show", hubIf, "dump"])).trim().split("\n");
    const dumpMs = performance.now() - t;
    expect(dump).toHaveLength(1 + before + 10_000);
    expect(dump.slice(1 + before).map((l) => l.split("\t")[0])).toEqual(keys);
    expect(dump[before + 10_000].split("\t").slice(2, 4)).toEqual(["198.18.239.15:51820", "100.100.39.15/32"]);

    const extra = wgKeyPair().publicKey;
    await execAsync(hub, ["wg", "set", hubIf, "peer", extra, "allowed-ips", "100.101.0.1/32"]);
    expect(await execAsync(hub, ["wg", "show", hubIf, "peers"])).toContain(extra);

    expect(await ping.exited).toBe(0);
    const received = Number(/(\d+) received/.exec(ping.output())![1]);
    const rssAfter = rssMb(hubProc.child.pid!);

    const only = join(lab.dir, "one.conf");
    writeFileSync(only, `[Interface]\nPrivateKey = ${hubKeys.privateKey}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${spokeKeys.publicKey}\nAllowedIPs = ${SPOKE_VIP}/32\n`, { mode: 0o600 });
    t = performance.now();
    await execAsync(hub, ["wg", "setconf", hubIf, only]);
    const backMs = performance.now() - t;
    expect((await execAsync(hub, ["wg", "show", hubIf, "peers"])).trim()).toBe(spokeKeys.publicKey);
    console.log(
      `wg addconf, 10,000 peers: ${addMs.toFixed(0)} ms; wg show during it: ${shows.length} answers, slowest ${Math.max(...shows).toFixed(0)} ms; ` +
        `wg show dump of ${before + 10_000} peers: ${dumpMs.toFixed(0)} ms; spoke pings answered: ${received}/40; wg setconf back to one peer: ${backMs.toFixed(0)} ms; hub RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB`,
    );
    expect(Math.max(...shows)).toBeLessThan(2_000);
    expect(dumpMs).toBeLessThan(5_000);
    expect(received).toBeGreaterThanOrEqual(38);
  }, 180_000);
});
