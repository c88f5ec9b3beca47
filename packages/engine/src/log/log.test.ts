import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeKey, generatePrivateKey } from "../protocol/keys.js";
import { type LogFormat, createLogger, stderrIsJournal } from "./log.js";

function capture(format: LogFormat, level: "trace" | "info" = "info", journald = false) {
  const lines: string[] = [];
  const logger = createLogger({ format, level, journald, destination: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
}

describe("logger", () => {
  it("writes one readable text line per call", () => {
    const { logger, lines } = capture("text");
    logger.info("handshake done", { peer: "AbC=", endpoint: "198.18.0.2:51820", note: "two words" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}handshake done peer=AbC= endpoint=198\.18\.0\.2:51820 note="two words"\n$/);
  });

  it("writes no terminal escape and no second line, whatever a message or value holds", () => {
    const { logger, lines } = capture("text");
    logger.warn("peer \u001b[31mred\u001b[0m", { endpoint: "\u001b]0;title\u0007", error: "two\nlines", "k\u001b": "\u009b1m", ok: "plain" });
    expect(lines).toHaveLength(1);
    expect([...lines[0].slice(0, -1)].filter((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f))).toEqual([]);
    expect(lines[0].indexOf("\n")).toBe(lines[0].length - 1);
    expect(lines[0]).toContain("WARN  peer \\u001b[31mred\\u001b[0m endpoint=\"\\u001b]0;title\\u0007\" error=\"two\\nlines\" k\\u001b=\"\\u009b1m\" ok=plain\n");
  });

  it("writes for the journal: syslog priority first, no time (journald stamps lines)", () => {
    const text = capture("text", "info", true);
    text.logger.info("interface up", { tun: "tt0" });
    text.logger.warn("peer silent");
    text.logger.error("failed");
    expect(text.lines).toEqual(["<6>INFO  interface up tun=tt0\n", "<4>WARN  peer silent\n", "<3>ERROR failed\n"]);
    const json = capture("json", "info", true);
    json.logger.warn("peer silent", { peer: "x" });
    expect(json.lines[0]).toMatch(/^<4>\{/);
    expect(JSON.parse(json.lines[0].slice(3))).toMatchObject({ level: "warn", msg: "peer silent", peer: "x" });
  });

  it("knows standard error is the journal only when JOURNAL_STREAM names that very stream", () => {
    const dir = mkdtempSync(join(tmpdir(), "taltun-log-"));
    try {
      const file = join(dir, "stream");
      const fd = openSync(file, "w");
      const st = fstatSync(fd);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(stderrIsJournal({}, fd)).toBe(false);
      expect(stderrIsJournal({ JOURNAL_STREAM: "garbage" }, fd)).toBe(false);
      closeSync(fd);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes JSON lines with --log-format json", () => {
    const { logger, lines } = capture("json");
    logger.child({ tun: "tt0" }).warn("peer silent", { peer: "x" });
    expect(JSON.parse(lines[0])).toMatchObject({ level: "warn", msg: "peer silent", tun: "tt0", peer: "x" });
  });

  it("drops packet-level lines unless trace is asked for", () => {
    const quiet = capture("text");
    quiet.logger.trace("packet", { len: 1400 });
    quiet.logger.debug("detail");
    expect(quiet.lines).toHaveLength(0);
    expect(quiet.logger.isLevelEnabled("trace")).toBe(false);
    const loud = capture("text", "trace");
    loud.logger.trace("packet", { len: 1400 });
    expect(loud.lines[0]).toContain("TRACE packet len=1400");
  });

  it("never writes a private or preshared key, at any depth, in either format", () => {
    const secret = encodeKey(generatePrivateKey());
    for (const format of ["text", "json"] as const) {
      const { logger, lines } = capture(format);
      logger.info("a", { private_key: secret, preshared_key: secret, privateKey: secret });
      logger.info("b", { peer: { presharedKey: secret, public_key: "pub" } });
      logger.info("c", { config: { interface: { privateKey: secret } } });
      logger.info("d", { peers: [{ presharedKey: secret }] });
      logger.child({ privateKey: secret }).info("e");
      expect(lines).toHaveLength(5);
      for (const l of lines) {
        expect(l).not.toContain(secret);
        expect(l).toContain("<redacted>");
      }
    }
  });
});
