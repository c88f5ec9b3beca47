import { describe, expect, it } from "vitest";
import {
  ADDR_SIZE, AF_INET, AF_INET6, decodeAddr, decodeEndpoint, encodeAddr, formatIp, parseCidr, parseEndpoint, parseIp,
} from "./address.js";

describe("address records", () => {
  it("round-trips IPv4 and IPv6 endpoints through 24-byte records", () => {
    const mem = new Uint8Array(ADDR_SIZE * 3);
    for (const [i, s] of ["198.18.0.1:51820", "[fd00::1]:51820", "[fe80::1%3]:1"].entries()) {
      encodeAddr(mem, i * ADDR_SIZE, s);
      expect(decodeEndpoint(mem, i * ADDR_SIZE)).toBe(s);
    }
    const dv = new DataView(mem.buffer);
    expect(dv.getUint16(0, true)).toBe(AF_INET);
    expect(dv.getUint16(2, true)).toBe(51820);
    expect([...mem.subarray(4, 8)]).toEqual([198, 18, 0, 1]);
    expect(dv.getUint16(24, true)).toBe(AF_INET6);
    expect(mem[24 + 4]).toBe(0xfd);
    expect(dv.getUint32(48 + 20, true)).toBe(3);
    expect(decodeAddr(mem, 0).port).toBe(51820);
  });

  it("formats IPv6 per RFC 5952 and parses embedded IPv4", () => {
    expect(formatIp(AF_INET6, parseIp("2001:db8:0:0:1:0:0:1").bytes)).toBe("2001:db8::1:0:0:1");
    expect(formatIp(AF_INET6, parseIp("::").bytes)).toBe("::");
    expect(formatIp(AF_INET6, parseIp("::ffff:198.18.0.1").bytes)).toBe("::ffff:c612:1");
    expect(formatIp(AF_INET6, parseIp("fd00:1:2:3:4:5:6:7").bytes)).toBe("fd00:1:2:3:4:5:6:7");
  });

  it("parses CIDRs with default prefixes", () => {
    expect(parseCidr("100.64.0.1/24").prefix).toBe(24);
    expect(parseCidr("100.64.0.1").prefix).toBe(32);
    expect(parseCidr("fd00::1").prefix).toBe(128);
  });

  it("rejects malformed input with clear errors", () => {
    for (const bad of ["1.2.3", "256.0.0.1", "01.2.3.4", "fd00:::1", "1:2:3:4:5:6:7:8:9", "x"]) expect(() => parseIp(bad)).toThrow(/invalid IP/);
    for (const bad of ["198.18.0.1", "fd00::1:5", "[198.18.0.1]:1", "198.18.0.1:70000"]) expect(() => parseEndpoint(bad)).toThrow(TypeError);
    expect(() => parseCidr("100.64.0.1/33")).toThrow(/prefix/);
    expect(() => encodeAddr(new Uint8Array(10), 0, "198.18.0.1:1")).toThrow(RangeError);
    expect(() => decodeAddr(new Uint8Array(24), 0)).toThrow(/family/);
  });
});
