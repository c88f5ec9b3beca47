import { describe, expect, it } from "vitest";
import { encodeKey, generatePrivateKey } from "../protocol/keys.js";
import { type LogFormat, createLogger } from "./log.js";

function capture(format: LogFormat, level: "trace" | "info" = "info") {
  const lines: string[] = [];
  const logger = createLogger({ format, level, destination: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
}

describe("logger", () => {
  it("writes one readable text line per call", () => {
    const { logger, lines } = capture("text");
    logger.info("handshake done", { peer: "AbC=", endpoint: "198.18.0.2:51820", note: "two words" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}handshake done peer=AbC= endpoint=198\.18\.0\.2:51820 note="two words"\n$/);
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
