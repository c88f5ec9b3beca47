import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI } from "./cli.test-helpers.js";

if (process.getuid?.() !== 0) throw new Error("the journald tests need root (they run taltun up in a network namespace): run them as root");

const ns = `tt-jd-${process.pid}`;
const iface = `ttjd${process.pid}`.slice(0, 15);
const dir = mkdtempSync(join(tmpdir(), "taltun-journald-"));
execFileSync("ip", ["netns", "add", ns]);
afterAll(() => {
  execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
});

const key = execFileSync("wg", ["genkey"], { encoding: "utf8" }).trim();
const peer = execFileSync("wg", ["pubkey"], { input: execFileSync("wg", ["genkey"]), encoding: "utf8" }).trim();
const cfg = join(dir, "up.toml");
writeFileSync(
  cfg,
  `[interface]\nmode = "server"\ntun_name = "${iface}"\nlocal_addr = "0.0.0.0:51820"\nvip = "100.64.0.1/24"\nprivate_key = "${key}"\n\n[[peers]]\nvip = "100.64.0.2"\npublic_key = "${peer}"\n`,
  { mode: 0o600 },
);

/**
 * Runs `taltun up` with its standard error on a file, as a service's is on the journal's
 * socket (not a terminal), asking for colour every way a library might honour; stops it
 * with SIGTERM once up and returns what it wrote.
 */
async function upWithStderrOnFile(journalStream: boolean, extra: string[] = []): Promise<string> {
  const file = join(dir, `stderr-${journalStream}-${extra.length}`);
  const fd = openSync(file, "w");
  const st = fstatSync(fd);
  const env: NodeJS.ProcessEnv = { ...process.env, TALTUN_RUN_DIR: dir, FORCE_COLOR: "3", CLICOLOR_FORCE: "1", TERM: "xterm-256color", COLORTERM: "truecolor" };
  delete env.NO_COLOR;
  if (journalStream) env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  else delete env.JOURNAL_STREAM;
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, CLI, "up", cfg, ...extra], { env, stdio: ["ignore", "ignore", fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const sock = `/var/run/wireguard/${iface}.sock`;
  for (let t = 0; !existsSync(sock); t++) {
    if (t > 150 || child.exitCode !== null) throw new Error(`taltun up did not come up: ${readFileSync(file, "utf8")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  return readFileSync(file, "utf8");
}

/** No ESC, CSI or any other control character but the line ends. */
function expectNoEscapes(text: string): void {
  expect([...text].filter((c) => c !== "\n" && (c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)))).toEqual([]);
}

describe("taltun up's log lines, standard error not a terminal", () => {
  it("are plain text lines with no colour codes, even with FORCE_COLOR set", async () => {
    const out = await upWithStderrOnFile(false);
    expectNoEscapes(out);
    const lines = out.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (TRACE|DEBUG|INFO |WARN |ERROR) \S/);
    expect(out).toMatch(/ INFO {2}interface up tun=/);
    expect(out).toMatch(/ INFO {2}stopping tun=\S+ signal=SIGTERM\n/);
    expect(out).toMatch(/ INFO {2}interface down tun=/);
    expect(out).not.toContain(key);
  });

  it("carry their syslog priority and no time when standard error is the journal (JOURNAL_STREAM)", async () => {
    const out = await upWithStderrOnFile(true);
    expectNoEscapes(out);
    const lines = out.trimEnd().split("\n");
    for (const l of lines) expect(l).toMatch(/^<[2-7]>(TRACE|DEBUG|INFO |WARN |ERROR) \S/);
    expect(lines).toContainEqual(expect.stringMatching(/^<6>INFO {2}interface up tun=/));
    expect(lines).toContainEqual(expect.stringMatching(/^<6>INFO {2}interface down tun=/));
    // JSON lines too: the priority in front, which journald takes off.
    const json = (await upWithStderrOnFile(true, ["--log-format", "json"])).trimEnd().split("\n");
    for (const l of json) expect(JSON.parse(l.replace(/^<[2-7]>/, ""))).toHaveProperty("msg");
    expect(json).toContainEqual(expect.stringMatching(/^<6>\{.*"msg":"interface up"/));
  });
});
