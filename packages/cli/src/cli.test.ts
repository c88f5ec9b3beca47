import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { taltun } from "./cli.test-helpers.js";

const wg = (args: string[], input?: string) => execFileSync("wg", args, { input, encoding: "utf8" }).trim();
const dir = mkdtempSync(join(tmpdir(), "taltun-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hubPriv = wg(["genkey"]);
const spokePub = () => wg(["pubkey"], wg(["genkey"]));
const pubA = spokePub();
const pubB = spokePub();

/** A valid hub configuration as TOML lines; `extra` lines replace or add keys. */
function hubToml(iface: Record<string, string> = {}, peerExtra = ""): string {
  const keys: Record<string, string> = {
    mode: '"server"',
    tun_name: '"tt0"',
    local_addr: '"0.0.0.0:51820"',
    vip: '"100.64.0.1/24"',
    private_key: `"${hubPriv}"`,
    ...iface,
  };
  const lines = Object.entries(keys).filter(([, v]) => v !== "").map(([k, v]) => `${k} = ${v}`);
  return `[interface]\n${lines.join("\n")}\n\n[[peers]]\nvip = "100.64.0.2"\npublic_key = "${pubA}"\nallowed_ips = ["192.168.50.0/24"]\n${peerExtra}\n[[peers]]\nvip = "100.64.0.3"\npublic_key = "${pubB}"\n`;
}

let n = 0;
function file(text: string, mode = 0o600): string {
  const f = join(dir, `c${n++}.toml`);
  writeFileSync(f, text, { mode });
  chmodSync(f, mode);
  return f;
}

describe("taltun genkey / pubkey", () => {
  it("print what wg prints, for several keys", async () => {
    for (let i = 0; i < 4; i++) {
      const gen = await taltun(["genkey"]);
      expect(gen.code).toBe(0);
      expect(gen.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      const priv = gen.stdout.trim();
      const ours = await taltun(["pubkey"], { input: priv + "\n" });
      expect(ours.stdout.trim()).toBe(wg(["pubkey"], priv));
      const theirs = wg(["genkey"]);
      expect((await taltun(["pubkey"], { input: theirs })).stdout.trim()).toBe(wg(["pubkey"], theirs));
    }
  });

  it("writes only the key through `pnpm taltun genkey`, the README's root command, when redirected", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const out = execFileSync("pnpm", ["taltun", "genkey"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 120_000 });
    expect(out).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  });

  it("accepts a hex private key and rejects garbage with exit 1", async () => {
    const hex = Buffer.from(hubPriv, "base64").toString("hex");
    expect((await taltun(["pubkey"], { input: hex })).stdout.trim()).toBe(wg(["pubkey"], hubPriv));
    const bad = await taltun(["pubkey"], { input: "not a key" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^taltun: pubkey: standard input: is not a key/);
  });
});

describe("taltun up: configuration errors", () => {
  // One case per validation rule: the config, then the key and reason of the one line.
  const cases: Array<[string, string, string, RegExp]> = [
    ["unknown key", hubToml({ tun_nmae: '"x"' }), "interface.tun_nmae", /unknown key; did you mean tun_name\? \(got "x"\)$/],
    ["mode", hubToml({ mode: '"hub"' }), "interface.mode", /must be "server" or "client" \(got "hub"\)$/],
    ["tun_name", hubToml({ tun_name: '"a-name-too-long-x"' }), "interface.tun_name", /1-15 characters/],
    ["tun_name chars", hubToml({ tun_name: '"tt 0"' }), "interface.tun_name", /letters, digits/],
    ["vip", hubToml({ vip: '"100.64.0.1/40"' }), "interface.vip", /prefix length must be 0-32/],
    ["mtu", hubToml({ mtu: "100" }), "interface.mtu", /must be 576-65455 \(got 100\)$/],
    ["listen_port", hubToml({ listen_port: "0" }), "interface.listen_port", /1-65535/],
    ["port conflict", hubToml({ listen_port: "1234" }), "interface.listen_port", /conflicts/],
    ["server port", hubToml({ local_addr: '"0.0.0.0"' }), "interface.local_addr", /fixed port/],
    ["workers", hubToml({ workers: "0" }), "interface.workers", /1-256/],
    ["log_level", hubToml({ log_level: '"loud"' }), "interface.log_level", /one of/],
    ["route", hubToml({ routes: '["10.1.2.3/16"]' }), "interface.routes[0]", /did you mean 10\.1\.0\.0\/16\?/],
    ["private key", hubToml({ private_key: '"abc"' }), "interface.private_key", /not a key.*\(got <redacted>\)$/],
    ["no key", hubToml({ private_key: "" }), "interface.private_key", /is required/],
    ["allowed_ips", hubToml({}, "").replace("192.168.50.0/24", "192.168.50.7/24"), "peers[0].allowed_ips[0]", /host bits/],
    ["overlap", hubToml({}, "").replace(`public_key = "${pubB}"`, `public_key = "${pubB}"\nallowed_ips = ["192.168.0.0/16"]`), "peers[1].allowed_ips[0]", /overlaps peers\[0\]\.allowed_ips\[0\]/],
    ["duplicate", hubToml({}, "").replace(pubB, pubA), "peers[1].public_key", /duplicates peers\[0\]\.public_key/],
    ["endpoint", hubToml({}, 'endpoint = "198.18.0.2"'), "peers[0].endpoint", /host:port/],
    ["client endpoint", hubToml({ mode: '"client"' }), "peers[0].endpoint", /required in client mode/],
    ["keepalive", hubToml({}, "persistent_keepalive = 70000"), "peers[0].persistent_keepalive", /0-65535/],
    ["preshared key", hubToml({}, 'preshared_key = "short"'), "peers[0].preshared_key", /\(got <redacted>\)$/],
    ["TOML syntax", "[interface]\nmode = ", "/tmp/", /\.toml:2:8: not valid TOML: invalid value$/],
  ];
  for (const [name, toml, key, reason] of cases) {
    it(`${name}: one line naming ${key}, exit 2`, async () => {
      const r = await taltun(["up", file(toml)]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^taltun: config error: ${key.replace(/[[\].]/g, "\\$&")}`));
      expect(lines[0]).toMatch(reason);
      expect(r.stderr).not.toContain(hubPriv.slice(0, 30));
    });
  }

  it("refuses a private_key_file others can read, naming chmod 600", async () => {
    const key = join(dir, "hub.key");
    writeFileSync(key, hubPriv + "\n", { mode: 0o644 });
    chmodSync(key, 0o644);
    const r = await taltun(["up", file(hubToml({ private_key: "", private_key_file: `"${key}"` }))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`taltun: config error: interface.private_key_file: is readable by group or others (mode 0644); run chmod 600 ${key} (got "${key}")\n`);
  });

  it("lets flags override file keys", async () => {
    // --check validates and prints the result without starting anything.
    const f = file(hubToml({ mtu: "100" }));
    expect((await taltun(["up", f, "--check"])).code).toBe(2);
    const fixed = await taltun(["up", f, "--check", "--mtu", "1400", "--tun-name", "tt9", "--vip", "100.64.0.9/24", "--workers", "3", "--routes", "10.8.0.0/16,10.9.0.0/16", "--local-addr", "0.0.0.0:4000"]);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain("configuration ok: tt9\n  mode: server, udp 0.0.0.0:4000\n  vip: 100.64.0.9/24, mtu 1400, workers 3, log level info\n");
    expect(fixed.stdout).toContain("routes: 10.8.0.0/16, 10.9.0.0/16");
    expect(fixed.stdout).not.toContain(hubPriv);
    // A valid file and a wrong flag: the error shows the flag's value.
    const r = await taltun(["up", file(hubToml()), "--check", "--tun-name", "bad name"]);
    expect(r.stderr).toBe('taltun: config error: interface.tun_name: may hold only letters, digits and _ . = + - (got "bad name")\n');
    // --private-key-file replaces the file's private_key.
    const key = join(dir, "flag.key");
    const other = wg(["genkey"]);
    writeFileSync(key, other, { mode: 0o600 });
    const k = await taltun(["up", file(hubToml()), "--check", "--private-key-file", key]);
    expect(k.stdout).toContain(`public key: ${wg(["pubkey"], other)}`);
    writeFileSync(key, "garbage", { mode: 0o600 });
    const g = await taltun(["up", file(hubToml()), "--check", "--private-key-file", key]);
    expect(g.stderr).toMatch(/^taltun: config error: interface.private_key_file: does not hold a key/);
  });

  it("reads metrics_addr from the file or --metrics-addr (a port alone: loopback), and peer names", async () => {
    const f = file(hubToml({ metrics_addr: '"0.0.0.0:9100"' }, 'name = "office (Zürich)"'));
    const fromFile = await taltun(["up", f, "--check"]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain("  metrics: http://0.0.0.0:9100/metrics\n");
    expect(fromFile.stdout).toContain(`  peer ${pubA} (office (Zürich))\n`);
    const flag = await taltun(["up", f, "--check", "--metrics-addr", "9586"]);
    expect(flag.stdout).toContain("  metrics: http://127.0.0.1:9586/metrics\n");
    expect((await taltun(["up", file(hubToml()), "--check"])).stdout).toContain("  metrics: off\n");
    const bad = await taltun(["up", f, "--check", "--metrics-addr", "localhost:9586"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('taltun: config error: interface.metrics_addr: must be a numeric address, e.g. 127.0.0.1:9586, [::1]:9586, or a port alone for loopback (got "localhost:9586")\n');
    const name = await taltun(["up", file(hubToml({}, `name = "${"x".repeat(65)}"`)), "--check"]);
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/^taltun: config error: peers\[0\]\.name: must be 1-64 characters/);
  });

  it("gives flag mistakes the same treatment: one line, exit 2", async () => {
    const f = file(hubToml());
    const fmt = await taltun(["up", f, "--check", "--log-format", "xml"]);
    expect(fmt).toMatchObject({ code: 2, stderr: 'taltun: config error: --log-format: must be "text" or "json" (got "xml")\n' });
    const level = await taltun(["up", f, "--check", "--log-level", "loud"]);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/^taltun: config error: interface.log_level: must be one of .* \(got "loud"\)\n$/);
    const unknown = await taltun(["up", f, "--check", "--tun-nmae", "x"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Did you mean --tun-name?");
  });

  it("never prints the private key, whatever happens", async () => {
    // Only --check and failing configurations: these tests never start a real interface.
    const outputs = await Promise.all([
      taltun(["up", file(hubToml()), "--check"]),
      taltun(["up", file(hubToml({ log_level: '"trace"' })), "--check"]),
      taltun(["up", file(hubToml({ privat_key: `"${hubPriv}"` }))]),
      taltun(["up", file(hubToml({ private_key: `"${hubPriv.slice(1)}"` }))]),
      taltun(["up", file(hubToml({ mtu: "1" })), "--log-format", "json", "--log-level", "trace"]),
    ]);
    for (const r of outputs) {
      expect(r.stdout + r.stderr).not.toContain(hubPriv.slice(1, 30));
      expect(r.stdout + r.stderr).not.toContain(Buffer.from(hubPriv, "base64").toString("hex").slice(0, 40));
    }
  });
});
