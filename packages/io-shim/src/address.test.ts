import { describe, expect, it } from "vitest";
import {
  ADDR_SIZE, AF_INET, AF_INET6, decodeAddr, decodeEndpoint, decodeLocal, encodeAddr, encodeLocal, formatIp, formatLocal, LOCAL_SIZE,
  parseCidr, parseEndpoint, parseIp,
} from "./address.js";

describe("local address records", () => {
  it("round-trips IPv4, IPv6 and none through 24-byte records, zeroing what is unused", () => {
    const mem = new Uint8Array(LOCAL_SIZE * 3).fill(0xee);
    encodeLocal(mem, 0, "198.18.0.2", 7);
    encodeLocal(mem, LOCAL_SIZE, "fe80::1", 3);
    encodeLocal(mem, 2 * LOCAL_SIZE, null);
    const dv = new DataView(mem.buffer);
    expect([dv.getUint16(0, true), dv.getUint16(2, true), ...mem.subarray(4, 8), ...mem.subarray(8, 20), dv.getUint32(20, true)]).toEqual([
      AF_INET, 0, 198, 18, 0, 2, ...Array(12).fill(0), 7,
    ]);
    expect(decodeLocal(mem, LOCAL_SIZE)).toEqual({ family: AF_INET6, bytes: parseIp("fe80::1").bytes, ifindex: 3 });
    expect(decodeLocal(mem, 2 * LOCAL_SIZE)).toBeNull();
    expect(mem.subarray(2 * LOCAL_SIZE).every((b) => b === 0)).toBe(true);
    expect([formatLocal(mem, 0), formatLocal(mem, LOCAL_SIZE), formatLocal(mem, 2 * LOCAL_SIZE)]).toEqual(["198.18.0.2", "fe80::1", ""]);
    expect(() => encodeLocal(mem, 3 * LOCAL_SIZE - 1, "198.18.0.2")).toThrow(RangeError);
    expect(() => encodeLocal(mem, 0, "198.18.0.2", -1)).toThrow(RangeError);
    dv.setUint16(0, 7, true);
    expect(() => decodeLocal(mem, 0)).toThrow(/unknown family 7/);
  });
});

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
