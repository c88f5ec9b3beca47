/**
 * The systemd units of packaging/systemd (issue 13). systemd cannot run as PID 1 here, so
 * the units are checked the ways that work without it: `systemd-analyze verify` (syntax,
 * directives, the executables), its offline security review, and `taltun up` run with the
 * very capability set the unit gives it (read from the unit file, applied with setpriv):
 * it brings a tunnel up, reloads on SIGHUP (the unit's ExecReload) and stops on SIGTERM.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, waitFor } from "./netns.js";
import { startTaltun, TALTUN_CLI, taltunToml, type TaltunSpec } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { wgKeyPair } from "./wireguard-go.js";

const UNITS = new URL("../../packaging/systemd/", import.meta.url).pathname;
const TALTUN_UNIT = join(UNITS, "taltun@.service");
const DROP_IN = join(UNITS, "wg-quick@.service.d", "taltun-wg.conf");

/** `systemd-analyze ...` with the packaged units first on the unit path; never throws. */
function analyze(args: string[], unitPath = UNITS): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("systemd-analyze", args, { env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitPath}:` }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The values of `key` in a unit file (a key may be given more than once). */
function directive(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1].trim());
}

describe("packaging/systemd", () => {
  beforeAll(() => {
    for (const tool of ["systemd-analyze", "setpriv"]) {
      if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`the systemd tests need \`${tool}\`: run bash scripts/setup.sh`);
    }
    if (!existsSync("/usr/local/bin/taltun")) throw new Error("the unit runs /usr/local/bin/taltun, which verify checks: run bash scripts/setup.sh");
  });

  it("systemd-analyze verify accepts taltun@.service, without a warning", () => {
    const r = analyze(["verify", "taltun@tt0.service"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("systemd-analyze verify accepts wg-quick@.service with the taltun-wg drop-in, and reads the drop-in", () => {
    if (!existsSync("/lib/systemd/system/wg-quick@.service")) throw new Error("wg-quick@.service comes with wireguard-tools: run bash scripts/setup.sh");
    const r = analyze(["verify", "wg-quick@wg0.service"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(directive(readFileSync(DROP_IN, "utf8"), "Environment")).toEqual(["WG_QUICK_USERSPACE_IMPLEMENTATION=taltun-wg"]);
    // The drop-in is on the path verify reads: a copy with a wrong key draws a warning.
    const lab = new Lab("sd");
    try {
      mkdirSync(join(lab.dir, "wg-quick@.service.d"));
      writeFileSync(join(lab.dir, "wg-quick@.service.d", "taltun-wg.conf"), `${readFileSync(DROP_IN, "utf8")}NoSuchKey=1\n`);
      expect(analyze(["verify", "wg-quick@wg0.service"], lab.dir).stderr).toMatch(/taltun-wg\.conf:\d+: Unknown key 'NoSuchKey'/);
    } finally {
      void lab.close();
    }
  });

  it("the unit is hardened: one capability, read-only system, only the families and device Taltun uses; exposure rated OK", () => {
    const unit = readFileSync(TALTUN_UNIT, "utf8");
    expect(directive(unit, "ExecStart")).toEqual(["/usr/local/bin/taltun up /etc/taltun/%i.toml"]);
    expect(directive(unit, "ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(directive(unit, "CapabilityBoundingSet")).toEqual(["CAP_NET_ADMIN"]);
    expect(directive(unit, "AmbientCapabilities")).toEqual(["CAP_NET_ADMIN"]);
    expect(directive(unit, "NoNewPrivileges")).toEqual(["yes"]);
    expect(directive(unit, "ProtectSystem")).toEqual(["strict"]);
    expect(directive(unit, "ReadWritePaths")).toEqual(["/run/wireguard /run/taltun"]);
    expect(directive(unit, "ProtectHome")).toEqual(["yes"]);
    expect(directive(unit, "PrivateTmp")).toEqual(["yes"]);
    expect(directive(unit, "RestrictAddressFamilies")).toEqual(["AF_INET AF_INET6 AF_NETLINK AF_UNIX"]);
    expect(directive(unit, "DeviceAllow")).toEqual(["/dev/net/tun rw"]);
    expect(directive(unit, "DevicePolicy")).toEqual(["closed"]);
    const r = analyze(["security", "--offline=true", TALTUN_UNIT]);
    const level = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
    expect(level, r.stdout + r.stderr).not.toBeNull();
    console.log(`systemd-analyze security --offline=true taltun@.service: ${level![1]} ${level![2]}`);
    expect(Number(level![1])).toBeLessThanOrEqual(3);
  });

  describe("taltun up with the unit's capabilities, in a namespace", () => {
    const lab = new Lab("su");
    let hub = "";
    let spoke = "";
    beforeAll(() => {
      requireLabPreconditions();
      hub = lab.netns("hub");
      spoke = lab.netns("spoke");
      lab.link(hub, "198.18.151.1/24", spoke, "198.18.151.2/24");
    });
    afterAll(() => lab.close());

    it("brings a tunnel up with CAP_NET_ADMIN alone, reloads on SIGHUP (ExecReload) and stops on SIGTERM", async () => {
      const unit = readFileSync(TALTUN_UNIT, "utf8");
      const caps = directive(unit, "CapabilityBoundingSet")[0].split(/\s+/).map((c) => `+${c.replace(/^CAP_/, "").toLowerCase()}`).join(",");
      const ambient = directive(unit, "AmbientCapabilities")[0].split(/\s+/).map((c) => `+${c.replace(/^CAP_/, "").toLowerCase()}`).join(",");
      const hubKeys = wgKeyPair();
      const spokeKeys = wgKeyPair();
      const other = wgKeyPair();
      const spec: TaltunSpec = {
        mode: "server", tunName: `u151${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:51820", vip: "100.64.151.1/24", privateKey: hubKeys.privateKey,
        peers: [{ vip: "100.64.151.2", publicKey: spokeKeys.publicKey }],
      };
      // The configuration as the unit finds it: root's, mode 0600, with the key file beside it.
      const keyFile = join(lab.dir, "hub.key");
      writeFileSync(keyFile, `${hubKeys.privateKey}\n`, { mode: 0o600 });
      const config = join(lab.dir, "hub.toml");
      writeFileSync(config, taltunToml(spec, keyFile), { mode: 0o600 });
      const [exec, ...args] = directive(unit, "ExecStart")[0].replace("/etc/taltun/%i.toml", config).split(/\s+/);
      expect(exec).toBe("/usr/local/bin/taltun");
      // setpriv applies what systemd would: the bounding set, ambient (and inheritable) capabilities, no new privileges.
      const proc = lab.spawn(hub, ["setpriv", `--bounding-set=-all,${caps}`, `--inh-caps=-all,${ambient}`, `--ambient-caps=-all,${ambient}`, "--no-new-privs", "node", TALTUN_CLI, ...args]);
      lab.afterExit(() => lab.exec(hub, ["rm", "-f", `/var/run/wireguard/${spec.tunName}.sock`, `/var/run/taltun/${spec.tunName}.pid`]));
      await waitFor("taltun up under setpriv", 15_000, () => {
        if (proc.child.exitCode !== null) throw new Error(`taltun up exited ${proc.child.exitCode}: ${proc.output()}`);
        return existsSync(`/var/run/wireguard/${spec.tunName}.sock`) ? true : undefined;
      });
      const status = readFileSync(`/proc/${proc.child.pid}/status`, "utf8");
      // CAP_NET_ADMIN is capability 12: 0x1000, and nothing else, in every set that counts.
      for (const set of ["CapEff", "CapPrm", "CapBnd", "CapAmb"]) expect(status, set).toMatch(new RegExp(`^${set}:\\s+0000000000001000$`, "m"));
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      await startTaltun(lab, spoke, {
        mode: "client", tunName: `v151${lab.tag}`.slice(0, 15), localAddr: "0.0.0.0:0", vip: "100.64.151.2/24", privateKey: spokeKeys.privateKey,
        peers: [{ vip: "100.64.151.1", publicKey: hubKeys.publicKey, endpoint: "198.18.151.1:51820", allowedIps: ["100.64.151.0/24"] }],
      });
      expect(await pingOk(lab, spoke, "100.64.151.1")).toMatch(/3 received/);
      // ExecReload: a peer added to the file, applied on SIGHUP.
      writeFileSync(config, taltunToml({ ...spec, peers: [...spec.peers, { vip: "100.64.151.3", publicKey: other.publicKey }] }, keyFile), { mode: 0o600 });
      proc.child.kill("SIGHUP");
      await waitFor("the reload", 10_000, () => (proc.output().includes("configuration applied") ? true : undefined));
      expect(proc.output()).toMatch(/configuration applied .*peers_added=1/);
      expect(execFileSync("ip", ["netns", "exec", hub, "wg", "show", spec.tunName, "peers"], { encoding: "utf8" })).toContain(other.publicKey);
      expect(await pingOk(lab, spoke, "100.64.151.1")).toMatch(/3 received/);
      proc.child.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(proc.output()).not.toMatch(/EPERM|operation not permitted|WARN/i);
    });
  });
});

