import { describe, expect, it } from "vitest";
import { check, errnoCode, errnoName, SysError } from "./errors.js";

describe("SysError", () => {
  it("names errnos as Linux does", () => {
    expect([1, 9, 11, 17, 19, 95].map(errnoName)).toEqual(["EPERM", "EBADF", "EAGAIN", "EEXIST", "ENODEV", "EOPNOTSUPP"]);
    expect(errnoCode("EWOULDBLOCK")).toBe(11);
    expect(errnoName(4095)).toBe("E4095");
  });

  it("turns -errno into a typed error with the operation and a hint", () => {
    expect(check("udp port", 5)).toBe(5);
    let err: unknown;
    try {
      check("tun open", -1, "tt0");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SysError);
    expect(err).toMatchObject({ errno: "EPERM", code: 1, op: "tun open" });
    expect((err as Error).message).toBe(
      "tun open: EPERM (operation not permitted): tt0; creating a TUN device needs root or CAP_NET_ADMIN",
    );
  });

  it("gives EACCES (a /dev/net/tun of mode 0600 for a non-root user) the same hint as EPERM", () => {
    expect(() => check("tun open", -13, "tt0")).toThrow(
      expect.objectContaining({
        errno: "EACCES",
        message: "tun open: EACCES (permission denied): tt0; creating a TUN device needs root or CAP_NET_ADMIN",
      }),
    );
  });
});
