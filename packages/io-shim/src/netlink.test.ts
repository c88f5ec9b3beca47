import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addrAdd, addrDel, linkIndex, linkSetMtu, linkSetUp, routeAdd, routeDel } from "./netlink.js";
import { closeFd } from "./poll.js";
import { tunOpen } from "./tun.js";
import { enterTestNs, type TestNs } from "./_netns_fixture.js";

interface IpAddr { ifindex: number; ifname: string; mtu: number; flags: string[]; operstate: string; addr_info: { family: string; local: string; prefixlen: number }[] }
interface IpRoute { dst: string; dev: string; protocol?: string }

const DEV = "ttnl0";
let ns: TestNs;
let fd = -1;

beforeAll(() => {
  ns = enterTestNs();
  fd = tunOpen(DEV).fd; // the device lives while its fd is open
});
afterAll(() => {
  if (fd >= 0) closeFd(fd);
  ns?.dispose();
});

const link = () => ns.json<IpAddr[]>("addr", "show", "dev", DEV)[0];
const addrs = () => link().addr_info.filter((a) => !a.local.startsWith("fe80")).map((a) => `${a.local}/${a.prefixlen}`);
const routes = (v6 = false) => ns.json<IpRoute[]>(...(v6 ? ["-6"] : []), "route", "show", "dev", DEV).filter((r) => r.protocol === "static").map((r) => r.dst);

describe("rtnetlink", () => {
  it("looks up the ifindex", () => {
    expect(linkIndex(DEV)).toBe(link().ifindex);
    expect(linkIndex("lo")).toBe(1);
  });

  it("sets MTU and up/down state as ip(8) reports them", () => {
    linkSetMtu(DEV, 1420);
    expect(link().mtu).toBe(1420);
    linkSetUp(DEV, true);
    expect(link().flags).toContain("UP");
    linkSetUp(DEV, false);
    expect(link().flags).not.toContain("UP");
    linkSetUp(DEV, true);
    expect(link().flags).toContain("UP");
  });

  it("adds and removes IPv4 and IPv6 addresses", () => {
    addrAdd(DEV, "100.64.3.1/24");
    addrAdd(DEV, "fd00:64::1/64");
    expect(addrs()).toEqual(["100.64.3.1/24", "fd00:64::1/64"]);
    addrDel(DEV, "100.64.3.1/24");
    addrDel(DEV, "fd00:64::1/64");
    expect(addrs()).toEqual([]);
  });

  it("adds and removes device routes, v4 and v6", () => {
    addrAdd(DEV, "100.64.4.1/24");
    routeAdd(DEV, "100.65.0.0/16");
    routeAdd(DEV, "100.66.1.2");
    routeAdd(DEV, "fd00:65::/64");
    expect(routes()).toEqual(["100.65.0.0/16", "100.66.1.2"]);
    expect(routes(true)).toEqual(["fd00:65::/64"]);
    routeDel(DEV, "100.65.0.0/16");
    routeDel(DEV, "100.66.1.2");
    routeDel(DEV, "fd00:65::/64");
    expect(routes()).toEqual([]);
    expect(routes(true)).toEqual([]);
    addrDel(DEV, "100.64.4.1/24");
  });

  it("reports errors as typed SysErrors", () => {
    expect(() => linkSetUp("ttnope0")).toThrow(expect.objectContaining({ name: "SysError", errno: "ENODEV", code: 19, op: "link up" }));
    expect(() => linkIndex("ttnope0")).toThrow(/link index: ENODEV \(no such network device\): ttnope0/);
    addrAdd(DEV, "100.64.5.1/24");
    expect(() => addrAdd(DEV, "100.64.5.1/24")).toThrow(expect.objectContaining({ errno: "EEXIST", op: "addr add" }));
    addrDel(DEV, "100.64.5.1/24");
    expect(() => addrDel(DEV, "100.64.5.1/24")).toThrow(expect.objectContaining({ errno: "EADDRNOTAVAIL", op: "addr del" }));
    expect(() => routeDel(DEV, "100.67.0.0/16")).toThrow(expect.objectContaining({ errno: "ESRCH", op: "route del" }));
    routeAdd(DEV, "100.67.0.0/16");
    expect(() => routeAdd(DEV, "100.67.0.0/16")).toThrow(expect.objectContaining({ errno: "EEXIST" }));
    routeDel(DEV, "100.67.0.0/16");
    // validated before C
    expect(() => addrAdd(DEV, "100.64.5.1/40")).toThrow(TypeError);
    expect(() => linkSetMtu(DEV, 20)).toThrow(RangeError);
    expect(() => linkSetUp("a-name-that-is-too-long")).toThrow(/invalid interface name/);
    expect(() => linkSetUp("")).toThrow(/invalid interface name/);
  });
});
