import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeFeatures } from "./probe.js";
import { enterTestNs, ip, type TestNs } from "./_netns_fixture.js";

let ns: TestNs;
beforeAll(() => {
  ns = enterTestNs();
});
afterAll(() => ns?.dispose());

describe("probeFeatures", () => {
  it("reports the kernel features of this machine and leaves no device behind", () => {
    const f = probeFeatures();
    console.log(`kernel features (${ip("-V").trim()}):`, JSON.stringify(f));
    // everything Taltun needs as root on Linux 5.x+
    expect(f.tun).toBe(true);
    expect(f.tunMultiQueue).toBe(true);
    expect(f.tunVnetHdr).toBe(true);
    expect(f.udpSegment).toBe(true);
    expect(f.udpGro).toBe(true);
    expect(f.soReuseport).toBe(true);
    expect(ns.json<{ ifname: string }[]>("link").map((l) => l.ifname)).toEqual(["lo"]);
  });
});
