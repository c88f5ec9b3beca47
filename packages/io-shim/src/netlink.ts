/**
 * Interface configuration through rtnetlink (done in C; no `ip` command): link index,
 * up/down, MTU, addresses and device routes, IPv4 and IPv6. Failures are
 * {@link SysError}s: ENODEV for a missing device, EEXIST for a duplicate, EPERM without
 * CAP_NET_ADMIN, EADDRNOTAVAIL / ESRCH when removing what is not there.
 * @module
 */
import { parseCidr } from "./address.js";
import { check } from "./errors.js";
import { arg, DataType, slowCall } from "./load.js";
import { checkIfName } from "./tun.js";

/** The interface index of `name` (ENODEV if there is none). */
export function linkIndex(name: string): number {
  checkIfName(name, "link index");
  return check("link index", slowCall("tt_link_index", DataType.I32, [arg.str(name)]), name);
}

/** Sets the link up or down. */
export function linkSetUp(name: string, up = true): void {
  checkIfName(name, "link set");
  check(up ? "link up" : "link down", slowCall("tt_link_set_up", DataType.I32, [arg.str(name), arg.i32(up ? 1 : 0)]), name);
}

/** Sets the link MTU (68..65535). */
export function linkSetMtu(name: string, mtu: number): void {
  checkIfName(name, "link set mtu");
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`link set mtu: ${mtu} is not in [68, 65535]`);
  check("link set mtu", slowCall("tt_link_set_mtu", DataType.I32, [arg.str(name), arg.i32(mtu)]), `${name} mtu ${mtu}`);
}

function change(fn: string, op: string, name: string, add: boolean, cidr: string): void {
  checkIfName(name, op);
  const c = parseCidr(cidr);
  const addr16 = new Uint8Array(16);
  addr16.set(c.bytes);
  check(op, slowCall(fn, DataType.I32, [arg.str(name), arg.i32(add ? 1 : 0), arg.i32(c.family), arg.bytes(addr16), arg.i32(c.prefix)]), `${cidr} on ${name}`);
}

/**
 * Adds an address with its prefix, e.g. `addrAdd("tt0", "100.64.0.1/24")` or
 * `addrAdd("tt0", "fd00::1/64")` (no prefix: /32 or /128). EEXIST if present.
 */
export function addrAdd(name: string, cidr: string): void {
  change("tt_addr_change", "addr add", name, true, cidr);
}

/** Removes an address (same form as {@link addrAdd}). */
export function addrDel(name: string, cidr: string): void {
  change("tt_addr_change", "addr del", name, false, cidr);
}

/** Adds a route to `cidr` through the device, e.g. `routeAdd("tt0", "100.64.1.0/24")`. */
export function routeAdd(name: string, cidr: string): void {
  change("tt_route_change", "route add", name, true, cidr);
}

/** Removes a device route added with {@link routeAdd}. */
export function routeDel(name: string, cidr: string): void {
  change("tt_route_change", "route del", name, false, cidr);
}
