/**
 * Hostile and broken configurations (issue 12): each of these files makes `taltun up
 * --check` exit 2 with one line of at most 1000 bytes on standard error, naming the key;
 * never a private key or anything that looks like one, never an unbounded value, never a
 * hang (a FIFO or a device as a key file, a huge file).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { taltun } from "./cli.test-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "taltun-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const wg = (args: string[], input?: string) => execFileSync("wg", args, { input, encoding: "utf8" }).trim();
const priv = wg(["genkey"]);
const otherPriv = wg(["genkey"]);
const pub = wg(["pubkey"], otherPriv);
const keyFile = join(dir, "good.key");
writeFileSync(keyFile, `${priv}\n`, { mode: 0o600 });
const hex = Buffer.from(priv, "base64").toString("hex");

const iface = (extra = "", key = `private_key_file = "${keyFile}"`) =>
  `[interface]\nmode = "server"\ntun_name = "tt0"\nlocal_addr = "0.0.0.0:51820"\nvip = "100.64.0.1/24"\n${key}\n${extra}\n`;
const peer = (extra = "") => `[[peers]]\nvip = "100.64.0.2"\npublic_key = "${pub}"\n${extra}\n`;

/** File name -> contents (or a function that makes the file). */
const cases: Record<string, string | ((path: string) => void)> = {
  "unknown key holding a private key": iface(`key = "${priv}"`),
  "unknown key holding a hex private key": iface(`secret_sauce = "${hex}"`),
  "a private key as the name of a key": iface(`"${priv}" = 1`),
  "misspelled private_key": iface(`privat_key = "${priv}"`),
  "inline private key that is not a key": iface("", `private_key = "${priv.slice(0, 40)}"`),
  "both private_key and private_key_file": iface(`private_key = "${priv}"`),
  "no private key": iface("", ""),
  "a 10 MB value": iface(`mode2 = "${"x".repeat(10 << 20)}"`),
  "a 100 KB key name": iface(`${"k".repeat(100_000)} = 1`),
  "a value full of keys": iface(`routes = ["${priv}", "${otherPriv}"]`),
  "mtu as a string": iface('mtu = "1420"'),
  "mtu too large": iface("mtu = 65456"),
  "mtu too small": iface("mtu = 100"),
  "mtu as a huge integer": iface("mtu = 99999999999999999999"),
  "negative workers": iface("workers = -1"),
  "workers as a float": iface("workers = 1.5"),
  "unknown mode": iface().replace('"server"', `"${priv}"`),
  "tun_name too long": iface().replace('"tt0"', '"tt0123456789012345"'),
  "tun_name with a slash": iface().replace('"tt0"', '"a/b"'),
  "local_addr not numeric": iface().replace('"0.0.0.0:51820"', '"hub.example:51820"'),
  "local_addr with port 0 for a server": iface().replace('"0.0.0.0:51820"', '"0.0.0.0:0"'),
  "vip not an address": iface().replace('"100.64.0.1/24"', '"100.64.0.999/24"'),
  "routes with host bits": iface('routes = ["10.1.2.3/16"]'),
  "routes not a list": iface('routes = "10.1.0.0/16"'),
  "log_level unknown": iface('log_level = "loud"'),
  "interface not a table": 'interface = "tt0"\n',
  "no interface": peer(),
  "peers not an array of tables": iface('\npeers = "all"'.slice(1)).replace("[interface]", "peers = 1\n[interface]"),
  "peer without public_key": iface() + '[[peers]]\nvip = "100.64.0.2"\n',
  "peer public key is not a key": iface() + peer().replace(pub, "not-a-key"),
  "peer public key is our own": iface() + peer().replace(pub, wg(["pubkey"], priv)),
  "duplicate peers": iface() + peer() + peer().replace("100.64.0.2", "100.64.0.3"),
  "peer preshared_key malformed": iface() + peer(`preshared_key = "${priv.slice(0, 30)}"`),
  "peer endpoint malformed": iface() + peer(`endpoint = "${priv}"`),
  "peer allowed_ips overlap": iface() + peer('allowed_ips = ["10.9.0.0/16"]') + peer('allowed_ips = ["10.9.5.0/24"]').replace(pub, wg(["pubkey"], wg(["genkey"]))).replace("100.64.0.2", "100.64.0.3"),
  "peer keepalive out of range": iface() + peer("persistent_keepalive = 70000"),
  "peer unknown key": iface() + peer(`endpointt = "198.18.0.2:51820"`),
  "not TOML, with a key on the broken line": `[interface]\nprivate_key = "${priv}" oops\n`,
  "binary garbage": (p) => writeFileSync(p, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255))),
  "key file readable by others": (p) => {
    const k = `${p}.key`;
    writeFileSync(k, `${priv}\n`, { mode: 0o644 });
    writeFileSync(p, iface("", `private_key_file = "${k}"`));
  },
  "key file missing": iface("", `private_key_file = "${join(dir, "nope.key")}"`),
  "key file is a FIFO": (p) => {
    const k = `${p}.fifo`;
    execFileSync("mkfifo", ["-m", "600", k]);
    writeFileSync(p, iface("", `private_key_file = "${k}"`));
  },
  "key file is /dev/zero": iface("", 'private_key_file = "/dev/zero"'),
  "key file is a directory": (p) => {
    mkdirSync(`${p}.d`, { mode: 0o700 });
    writeFileSync(p, iface("", `private_key_file = "${p}.d"`));
  },
  "key file is huge": (p) => {
    writeFileSync(`${p}.key`, "A".repeat(1 << 20), { mode: 0o600 });
    writeFileSync(p, iface("", `private_key_file = "${p}.key"`));
  },
  "key file holds a public key pasted twice": (p) => {
    writeFileSync(`${p}.key`, `${pub}${pub}\n`, { mode: 0o600 });
    writeFileSync(p, iface("", `private_key_file = "${p}.key"`));
  },
  "configuration file is a FIFO": (p) => execFileSync("mkfifo", ["-m", "600", p]),
  "configuration file is a symlink to /dev/zero": (p) => symlinkSync("/dev/zero", p),
  "configuration file is huge": (p) => writeFileSync(p, `# ${"x".repeat(5 << 20)}\n`),
};

describe("hostile configurations", () => {
  it(`has at least 40 of them (${Object.keys(cases).length})`, () => {
    expect(Object.keys(cases).length).toBeGreaterThanOrEqual(40);
  });

  for (const [name, make] of Object.entries(cases)) {
    it(`${name}: exit 2, one short line naming the problem, no key`, async () => {
      const file = join(dir, `${name.replace(/\W+/g, "-")}.toml`);
      if (typeof make === "string") writeFileSync(file, make);
      else make(file);
      const r = await taltun(["up", file, "--check"], { timeoutMs: 10_000 });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
      expect(r.stderr.endsWith("\n") && r.stderr.split("\n").length === 2, JSON.stringify(r.stderr.slice(0, 200))).toBe(true);
      expect(Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(1001);
      expect(r.stderr).toMatch(/^taltun: config error: \S/);
      for (const secret of [priv, otherPriv, hex, priv.slice(0, 20)]) expect(r.stderr).not.toContain(secret);
      expect(r.stderr).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    });
  }
});
