/**
 * wg-quick with Taltun as its userspace implementation
 * (`WG_QUICK_USERSPACE_IMPLEMENTATION=taltun-wg wg-quick up CONF`), against a stock
 * wireguard-go server: a full tunnel (which needs the sockets' fwmark for its policy
 * routing) and a split one, traffic through them, `wg-quick save`, and `wg-quick down`
 * leaving no process, socket, route, rule or firewall table behind.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, run } from "./netns.js";
import { TALTUN_WG } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";
import { startWireguardGo, wgKeyPair } from "./wireguard-go.js";

/** The pid of the taltun-wg that wg-quick started for `ifname` (it detached: not a child of ours). */
function daemonPid(ifname: string): number | null {
  const out = run("sh", ["-c", `pgrep -f -- '--foreground ${ifname}$' || true`]).trim();
  return out ? Number(out.split("\n")[0]) : null;
}

describe("wg-quick with WG_QUICK_USERSPACE_IMPLEMENTATION=taltun-wg", () => {
  const lab = new Lab("wq");
  const client = wgKeyPair();
  const server = wgKeyPair();
  let c = "", s = "", ifname = "", conf = "";
  const quick = (...args: string[]) => lab.exec(c, ["env", `WG_QUICK_USERSPACE_IMPLEMENTATION=${TALTUN_WG}`, "wg-quick", ...args], undefined, 60_000);

  beforeAll(async () => {
    requireLabPreconditions();
    c = lab.netns("client");
    s = lab.netns("server");
    lab.link(c, "198.18.120.2/24", s, "198.18.120.1/24");
    await startWireguardGo(lab, s, {
      ifname: `s${lab.tag}`.slice(0, 15), privateKey: server.privateKey, listenPort: 51820, address: "100.64.120.1/24",
      peers: [{ publicKey: client.publicKey, allowedIps: ["100.64.120.2/32"] }],
    });
    ifname = `q${lab.tag}`.slice(0, 15);
    conf = join(lab.dir, `${ifname}.conf`);
    writeFileSync(conf, `[Interface]\nPrivateKey = ${client.privateKey}\nAddress = 100.64.120.2/24\n\n[Peer]\nPublicKey = ${server.publicKey}\nEndpoint = 198.18.120.1:51820\nAllowedIPs = 100.64.120.0/24\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    // wg-quick detached it: end it by its own pid if a failed test left it running.
    const pid = daemonPid(ifname);
    if (pid) process.kill(pid, "SIGTERM");
    await lab.close();
  });

  it("brings a full tunnel up (0.0.0.0/0, ::/0 with fwmark and policy routing), and down without a trace", async () => {
    // Reachable only through the tunnel: an address the server holds on its loopback.
    lab.exec(s, ["ip", "addr", "add", "198.18.122.1/32", "dev", "lo"]);
    lab.exec(s, ["wg", "set", `s${lab.tag}`.slice(0, 15), "peer", client.publicKey, "allowed-ips", "100.64.120.2/32,0.0.0.0/0"]);
    writeFileSync(conf, `[Interface]\nPrivateKey = ${client.privateKey}\nAddress = 100.64.120.2/24\n\n[Peer]\nPublicKey = ${server.publicKey}\nEndpoint = 198.18.120.1:51820\nAllowedIPs = 0.0.0.0/0, ::/0\n`, { mode: 0o600 });
    quick("up", conf);
    expect(lab.exec(c, ["wg", "show", ifname, "fwmark"]).trim()).toBe("0xca6c");
    // Our own datagrams carry the mark, so policy routing keeps them out of the tunnel.
    expect(await pingOk(lab, c, "198.18.122.1")).toMatch(/3 received/);
    expect(lab.exec(c, ["ip", "route", "get", "198.18.122.1"])).toContain(`dev ${ifname}`);
    const rx = Number(lab.exec(c, ["wg", "show", ifname, "transfer"]).split("\t")[1]);
    expect(rx).toBeGreaterThan(0);
    quick("down", conf);
    await new Promise((r) => setTimeout(r, 2000));
    expect(daemonPid(ifname)).toBeNull();
    expect(lab.exec(c, ["ip", "rule", "show"])).not.toMatch(/51820|suppress_prefixlength/);
    expect(lab.exec(c, ["nft", "list", "tables"])).not.toContain("wg-quick");
    expect(existsSync(`/var/run/wireguard/${ifname}.sock`)).toBe(false);
  });

  it("brings a split tunnel up, carries traffic, saves, and leaves nothing behind on down", async () => {
    quick("up", conf);
    const pid = daemonPid(ifname);
    expect(pid).not.toBeNull();
    expect(await pingOk(lab, c, "100.64.120.1")).toMatch(/3 received/);
    const t = await verifiedTransfer(lab, s, c, "100.64.120.1", 4 << 20);
    expect(t.received).toBe(t.sent);
    expect(lab.exec(c, ["wg", "show", ifname, "latest-handshakes"])).not.toMatch(/\t0$/m);

    quick("save", conf);
    const saved = readFileSync(conf, "utf8");
    expect(saved).toContain(`PublicKey = ${server.publicKey}`);
    expect(saved).toMatch(/ListenPort = \d+/);

    quick("down", conf);
    await new Promise((r) => setTimeout(r, 2000));
    expect(daemonPid(ifname)).toBeNull();
    expect(existsSync(`/var/run/wireguard/${ifname}.sock`)).toBe(false);
    expect(lab.exec(c, ["ip", "route", "show"])).not.toContain("100.64.120.0/24");
    expect(lab.exec(c, ["ip", "link", "show"])).not.toContain(ifname);
  });
});
