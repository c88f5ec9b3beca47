import { describe, expect, it } from "vitest";
import { ipPacketLength } from "./ip-header.js";

function ipv4(total: number, ihlWords = 5): Uint8Array {
  const p = new Uint8Array(Math.max(total, 20) + 16);
  p[0] = 0x40 | ihlWords;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  return p;
}

function ipv6(payload: number): Uint8Array {
  const p = new Uint8Array(40 + payload + 16);
  p[0] = 0x60;
  p[4] = payload >> 8;
  p[5] = payload & 0xff;
  return p;
}

describe("ipPacketLength", () => {
  it("reads the declared length of IPv4 and IPv6 packets, ignoring padding after them", () => {
    expect(ipPacketLength(ipv4(84), 0, 96)).toBe(84);
    expect(ipPacketLength(ipv6(64), 0, 112)).toBe(104);
  });

  it("reads a packet at an offset", () => {
    const buf = new Uint8Array(200);
    buf.set(ipv4(60), 16);
    expect(ipPacketLength(buf, 16, 64)).toBe(60);
  });

  it("rejects malformed packets", () => {
    expect(ipPacketLength(new Uint8Array(0), 0, 0)).toBe(0);
    expect(ipPacketLength(ipv4(84), 0, 80)).toBe(0); // declared longer than what arrived
    expect(ipPacketLength(ipv4(84, 4), 0, 96)).toBe(0); // header shorter than 20 bytes
    expect(ipPacketLength(ipv4(10), 0, 36)).toBe(0); // total shorter than its header
    expect(ipPacketLength(ipv4(84), 0, 19)).toBe(0);
    expect(ipPacketLength(ipv6(64), 0, 100)).toBe(0);
    expect(ipPacketLength(ipv6(0), 0, 39)).toBe(0);
    const v5 = ipv4(84);
    v5[0] = 0x55;
    expect(ipPacketLength(v5, 0, 96)).toBe(0);
  });
});
