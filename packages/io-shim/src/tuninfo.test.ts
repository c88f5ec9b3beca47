import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SysError } from "./errors.js";
import { linkSetMtu } from "./netlink.js";
import { closeFd } from "./poll.js";
import { tunInfo, tunOpen } from "./tun.js";
import { enterTestNs, ip, type TestNs } from "./_netns_fixture.js";

// The device is asked through its fd, so the answers follow it wherever it goes.
describe("tunInfo", () => {
  let ns: TestNs;
  let other = "";
  const fds: number[] = [];
  beforeAll(() => {
    ns = enterTestNs();
    other = `${ns.name}-x`;
    ip("netns", "add", other);
  });
  afterAll(() => {
    for (const fd of fds.splice(0)) closeFd(fd);
    ns?.dispose();
    ip("netns", "del", other);
  });

  it("tells the name, MTU and index of a device renamed, moved to another namespace and given MTUs from outside, and EBADFD once it is deleted", () => {
    const tun = tunOpen("tti0");
    fds.push(tun.fd);
    const first = tunInfo(tun.fd);
    expect(first).toMatchObject({ name: "tti0", mtu: 1500 });
    expect(first.index).toBe(ns.json<{ ifindex: number }[]>("link", "show", "tti0")[0].ifindex);
    linkSetMtu("tti0", 9000);
    expect(tunInfo(tun.fd).mtu).toBe(9000);

    ip("-n", ns.name, "link", "set", "tti0", "netns", other);
    ip("-n", other, "link", "set", "tti0", "name", "tti1", "mtu", "34000");
    expect(tunInfo(tun.fd)).toMatchObject({ name: "tti1", mtu: 34000 });

    ip("-n", other, "link", "del", "tti1");
    let error: unknown;
    try {
      tunInfo(tun.fd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SysError);
    expect((error as SysError).errno).toBe("EBADFD");
  });
});
