/**
 * The UAPI socket of a running `taltun-wg` under a hostile local client (issue 12):
 * 3,000 connections at once, a line of megabytes, binary junk, pipelined requests whose
 * answers are never read, idle and half-open connections held open. The daemon's memory
 * stays bounded (VmRSS sampled), it stays alive, `wg show` answers within a second even
 * while the idle connections are held, and the tunnel still carries pings. The socket is
 * the tunnel's keys: root's, no access for group or others (0700, as wireguard-go makes
 * it: the execute bit means nothing on a socket); another user gets EACCES from `wg` and
 * from connect(2).
 */
import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rssKb } from "./adversary.js";
import { Lab, type LabProcess, requireLabPreconditions, run, waitFor } from "./netns.js";
import { TALTUN_WG } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";
import { randomBytes } from "node:crypto";

const ABUSE = new URL("./uapi-abuse.mjs", import.meta.url).pathname;
const N = 182;
/** Growth of the daemon's resident memory any one attack may cause, in MiB. */
const RSS_BOUND_MB = 64;
/** Extra peers, so an answer to get=1 is some 30 kB: unread answers would add up fast. */
const EXTRA_PEERS = 200;

describe("hostile UAPI clients of taltun-wg", () => {
  const lab = new Lab("uh");
  const [dk, gk] = [wgKeyPair(), wgKeyPair()];
  const ifname = `u${lab.tag}`.slice(0, 15);
  const sock = `/var/run/wireguard/${ifname}.sock`;
  let ns = "", goNs = "";
  let daemon: LabProcess;
  let baseRss = 0;

  /** `wg show` from the daemon's namespace, timed (ms). */
  const timedShow = (): { ms: number; out: string } => {
    const t = performance.now();
    const out = lab.exec(ns, ["wg", "show", ifname, "dump"], undefined, 10_000);
    return { ms: performance.now() - t, out };
  };
  /** Runs one uapi-abuse.mjs mode to its end and returns its last JSON line. */
  const abuse = async (...args: string[]) => {
    const p = lab.spawn(ns, ["node", ABUSE, sock, ...args]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`uapi-abuse ${args.join(" ")} exited ${code}: ${p.output()}`);
    return JSON.parse(p.output().trim().split("\n").pop()!);
  };
  const grownMb = () => (rssKb(daemon.child.pid!) - baseRss) / 1024;
  /** After each attack: alive, memory bounded, `wg show` quick and complete. */
  const stillWell = (what: string) => {
    expect(daemon.child.exitCode, `${what}: daemon exited`).toBeNull();
    const { ms, out } = timedShow();
    expect(out.trim().split("\n")).toHaveLength(2 + EXTRA_PEERS);
    expect(ms, `${what}: wg show took ${ms} ms`).toBeLessThan(1000);
    const grown = grownMb();
    console.log(`${what}: wg show ${Math.round(ms)} ms, RSS +${grown.toFixed(1)} MiB`);
    expect(grown, `${what}: RSS grew by ${grown.toFixed(1)} MiB`).toBeLessThan(RSS_BOUND_MB);
  };

  beforeAll(async () => {
    requireLabPreconditions();
    ns = lab.netns("d");
    goNs = lab.netns("go");
    lab.link(ns, `198.18.${N}.1/24`, goNs, `198.18.${N}.2/24`);
    const extra = Array.from({ length: EXTRA_PEERS }, (_, i) => ({ publicKey: randomBytes(32).toString("base64"), allowedIps: [`100.65.${i >> 8}.${i & 255}/32`] }));
    daemon = await startWireguardGo(lab, ns, {
      binary: TALTUN_WG, ifname, privateKey: dk.privateKey, listenPort: 51820, address: `100.64.${N}.1/24`,
      peers: [{ publicKey: gk.publicKey, allowedIps: [`100.64.${N}.2/32`] }, ...extra],
    });
    // `ip netns exec` and the script's shebang both exec: the PID is the daemon's.
    expect(run("cat", [`/proc/${daemon.child.pid}/cmdline`])).toContain("wg.js");
    await startWireguardGo(lab, goNs, {
      ifname: `g${lab.tag}`.slice(0, 15), privateKey: gk.privateKey, address: `100.64.${N}.2/24`,
      peers: [{ publicKey: dk.publicKey, allowedIps: [`100.64.${N}.0/24`], endpoint: `198.18.${N}.1:51820` }],
    });
    await pingOk(lab, goNs, `100.64.${N}.1`, 1);
    baseRss = rssKb(daemon.child.pid!);
  });
  afterAll(() => lab.close());

  it("the socket is root's with no access for group or others: another user gets EACCES from wg and from connect(2), root reads the key", () => {
    const st = statSync(sock);
    expect({ groupOther: st.mode & 0o077, owner: st.mode & 0o600, uid: st.uid, gid: st.gid }).toEqual({ groupOther: 0, owner: 0o600, uid: 0, gid: 0 });
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    expect(() => lab.exec(ns, [...asNobody, "wg", "show", ifname, "private-key"])).toThrow(/Permission denied/);
    const probe = `require("net").createConnection(${JSON.stringify(sock)}).on("connect",()=>{console.log("connected");process.exit(0)}).on("error",(e)=>{console.log(e.code);process.exit(0)})`;
    expect(lab.exec(ns, [...asNobody, "node", "-e", probe]).trim()).toBe("EACCES");
    expect(lab.exec(ns, ["wg", "show", ifname, "private-key"]).trim()).toBe(dk.privateKey);
  });

  it("3,000 connections at once: each is answered or closed, none hangs, and the daemon carries on", async () => {
    const r = (await abuse("storm", "3000")) as { answered: number; closedEmpty: number; other: number; errors: Record<string, number> };
    console.log(`storm of 3000: ${JSON.stringify(r)}`);
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    expect(r.answered + r.closedEmpty + errors).toBe(3000);
    expect(r.other).toBe(0); // no answer cut short
    expect(r.answered).toBeGreaterThanOrEqual(32);
    stillWell("storm");
  }, 60_000);

  it("a line of 8 MB without a newline is refused with EMSGSIZE, 4 MB of binary junk is refused, neither is buffered", async () => {
    // The EMSGSIZE answer may be lost to the client: its own write fails first (ECONNRESET).
    let t = performance.now();
    const huge = (await abuse("hugeline", "8")) as { answer: string; closed: boolean };
    console.log(`8 MB line: closed after ${Math.round(performance.now() - t)} ms`);
    expect(huge).toEqual({ answer: expect.stringMatching(/^(errno=-90\n\n)?$/), closed: true });
    t = performance.now();
    const junk = (await abuse("junk", "4")) as { answer: string; closed: boolean };
    console.log(`4 MB junk: closed after ${Math.round(performance.now() - t)} ms`);
    expect(junk).toEqual({ answer: expect.stringMatching(/^(errno=-(90|71)\n*)*$/), closed: true });
    stillWell("huge line and junk");
  }, 60_000);

  it("pipelined requests whose answers are never read: the daemon's memory stays bounded", async () => {
    const p = lab.spawn(ns, ["node", ABUSE, sock, "pipeline", "8", "20000"]);
    await waitFor("the pipelined requests", 10_000, () => (p.output().includes("written") ? true : undefined));
    await new Promise((r) => setTimeout(r, 2000)); // the daemon writes what it can, then waits
    stillWell("8 x 20,000 pipelined get=1 unread");
    p.child.kill("SIGTERM");
    await p.exited;
  }, 60_000);

  it("idle, partial and half-closed connections held open: wg show still answers within 1 s, and the tunnel carries pings", async () => {
    const held = [];
    for (const kind of ["idle", "partial", "halfclose"]) {
      const p = lab.spawn(ns, ["node", ABUSE, sock, "hold", kind, "100"]);
      await waitFor(`${kind} connections`, 10_000, () => (p.output().includes("holding") ? true : undefined));
      held.push(p);
    }
    stillWell("300 idle, partial and half-closed connections held");
    expect(await pingOk(lab, goNs, `100.64.${N}.1`, 3)).toMatch(/3 received/);
    for (const p of held) p.child.kill("SIGTERM");
    const [idle, partial, halfclosed] = await Promise.all(held.map(async (p) => {
      const code = await p.exited;
      if (code !== 0) throw new Error(`uapi-abuse hold exited ${code}: ${p.output()}`);
      return JSON.parse(p.output().trim().split("\n").pop()!) as { answered: number; closedByServer: number };
    }));
    console.log(`held connections: ${JSON.stringify({ idle, partial, halfclosed })}`);
    // A client may shut its side once its request is out and still read the answer.
    expect(halfclosed.answered).toBeGreaterThan(90);
    // To make room, the daemon closed connections that sat silent: it had to, to answer wg.
    expect(idle.closedByServer + partial.closedByServer).toBeGreaterThan(0);
    stillWell("after they closed");
  }, 60_000);
});
