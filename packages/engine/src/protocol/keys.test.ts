import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { KeyFormatError, encodeKey, encodeKeyHex, generatePrivateKey, parseKey, publicKeyFrom } from "./keys.js";

const wg = (args: string[], input?: string) => execFileSync("wg", args, { input, encoding: "utf8" }).trim();

describe("keys", () => {
  it("computes the same public keys as `wg pubkey` for keys from `wg genkey`", () => {
    for (let i = 0; i < 8; i++) {
      const priv = wg(["genkey"]);
      expect(encodeKey(publicKeyFrom(parseKey(priv, "private key")))).toBe(wg(["pubkey"], priv + "\n"));
    }
  });

  it("generates clamped keys that `wg pubkey` agrees with", () => {
    for (let i = 0; i < 8; i++) {
      const k = generatePrivateKey();
      expect(k[0] & 7).toBe(0);
      expect(k[31] & 0xc0).toBe(0x40);
      expect(wg(["pubkey"], encodeKey(k))).toBe(encodeKey(publicKeyFrom(k)));
    }
  });

  it("round-trips base64 and accepts the Go Taltun's hex", () => {
    const k = generatePrivateKey();
    expect(parseKey(` ${encodeKey(k)}\n`, "k")).toEqual(k);
    expect(parseKey(encodeKeyHex(k), "k")).toEqual(k);
    expect(parseKey(encodeKeyHex(k).toUpperCase(), "k")).toEqual(k);
  });

  it("rejects malformed keys without echoing them", () => {
    const secret = encodeKey(generatePrivateKey());
    for (const bad of ["", secret.slice(1), secret + "A", "zz".repeat(32), secret.slice(0, 42) + "B="]) {
      let err: unknown;
      try {
        parseKey(bad, "interface.private_key");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KeyFormatError);
      expect((err as Error).message).toContain("interface.private_key");
      if (bad.length > 8) expect((err as Error).message).not.toContain(bad.slice(4, 20));
    }
  });
});
