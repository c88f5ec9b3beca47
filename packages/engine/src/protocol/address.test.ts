import { describe, expect, it } from "vitest";
import { AddressError, formatIp, ipNetsOverlap, parseHostPort, parseIp, parseIpNet } from "./address.js";

describe("IP addresses", () => {
  it("parses and writes IPv6 in RFC 5952 form", () => {
    const cases: Array<[string, string]> = [
      ["fd00::1", "fd00::1"],
      ["FD00:0:0:0:0:0:0:1", "fd00::1"],
      ["::", "::"],
      ["::1", "::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["::ffff:198.18.0.1", "::ffff:c612:1"],
      ["64:ff9b::100.64.0.1", "64:ff9b::6440:1"],
    ];
    for (const [text, canon] of cases) expect(formatIp(parseIp(text))).toBe(canon);
    expect(formatIp(parseIp("198.18.0.1"))).toBe("198.18.0.1");
  });

  it("writes IPv6 as the WHATWG URL serializer does (RFC 5952), for random addresses", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    for (let i = 0; i < 500; i++) {
      // Mostly zero groups, so runs of zeros of every length and position occur.
      const words = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() % 0x10000 : 0));
      const text = words.map((w) => w.toString(16)).join(":");
      expect(formatIp(parseIp(text)), text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }
  });

  it("parses prefixes, with host bits kept, rejected or masked", () => {
    expect(parseIpNet("100.64.0.1", "reject")).toMatchObject({ family: 4, address: "100.64.0.1", prefix: 32 });
    expect(parseIpNet("fd00::1", "reject").prefix).toBe(128);
    expect(parseIpNet("100.64.0.1/24", "keep").address).toBe("100.64.0.1");
    expect(parseIpNet("100.64.0.1/24", "mask").address).toBe("100.64.0.0");
    expect(() => parseIpNet("100.64.0.1/24", "reject")).toThrow(/did you mean 100\.64\.0\.0\/24/);
    expect(() => parseIpNet("fd00::1/64", "reject")).toThrow(/did you mean fd00::\/64/);
    expect(() => parseIpNet("10.0.0.0/33", "reject")).toThrow(AddressError);
    expect(() => parseIpNet("10.0.0/8", "reject")).toThrow(AddressError);
    expect(() => parseIpNet("10.0.0.0/", "reject")).toThrow(AddressError);
  });

  it("detects overlapping prefixes", () => {
    const n = (t: string) => parseIpNet(t, "reject");
    expect(ipNetsOverlap(n("10.0.0.0/8"), n("10.1.0.0/16"))).toBe(true);
    expect(ipNetsOverlap(n("10.1.0.0/16"), n("10.2.0.0/16"))).toBe(false);
    expect(ipNetsOverlap(n("0.0.0.0/0"), n("::/0"))).toBe(false);
  });

  it("splits host:port endpoints", () => {
    expect(parseHostPort("198.18.0.1:51820")).toEqual({ host: "198.18.0.1", port: 51820 });
    expect(parseHostPort("[fd00::1]:51820")).toEqual({ host: "fd00::1", port: 51820 });
    expect(parseHostPort("hub.example:1")).toEqual({ host: "hub.example", port: 1 });
    for (const bad of ["198.18.0.1", "198.18.0.1:0", "198.18.0.1:65536", "fd00::1:51820", "[hub]:1", "a b:1"]) {
      expect(() => parseHostPort(bad), bad).toThrow(AddressError);
    }
  });
});
