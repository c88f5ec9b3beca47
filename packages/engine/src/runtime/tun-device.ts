/**
 * The interface's TUN device: one queue per worker, its address, MTU and routes set
 * through the shim's netlink (no `ip` commands), and all of it undone at close. Closing
 * the last queue removes the device, and the kernel removes its addresses and routes with
 * it; routes are still deleted first so that a failure half-way leaves nothing behind.
 */
import { addrAdd, closeFd, linkSetMtu, linkSetUp, routeAdd, routeDel, tunOpen, tunOpenQueue } from "@taltun/io-shim";
import type { Logger } from "../log/log.js";

/** What the device is configured with. */
export interface TunSpec {
  name: string;
  queues: number;
  /**
   * The interface address with its prefix, e.g. `100.64.0.1/24`, and the device brought
   * up. Null: no address and left down, for whoever configures it from outside (`ip`), as
   * with wireguard-go.
   */
  address: string | null;
  mtu: number;
  /** Prefixes routed into the device. */
  routes: readonly string[];
}

/** An open, configured TUN device. */
export interface TunDevice {
  readonly name: string;
  readonly fds: readonly number[];
  /** Whether the queues carry a virtio-net header with segmentation offload (see TUN_VNET). */
  readonly offload: boolean;
  /** Routes the prefixes of `routes` into the device and removes the routes it added that are not among them. */
  setRoutes(routes: readonly string[]): void;
  close(): void;
}

/** Opens and configures the device; on any failure undoes what it did and rethrows. */
export function openTunDevice(spec: TunSpec, logger: Logger): TunDevice {
  const fds: number[] = [];
  const routes: string[] = [];
  const close = () => {
    for (const r of routes.splice(0)) {
      try {
        routeDel(spec.name, r);
      } catch (e) {
        logger.debug("route already gone", { route: r, error: (e as Error).message });
      }
    }
    for (const fd of fds.splice(0)) closeFd(fd);
  };
  try {
    const multiQueue = spec.queues > 1;
    // With offload the kernel hands us TCP in 64 KiB pieces, one read instead of ~45.
    let options = { multiQueue, vnetHdr: true, offload: true };
    let first;
    try {
      first = tunOpen(spec.name, options);
    } catch (e) {
      logger.warn("TUN segmentation offload unavailable, reading packet by packet", { error: (e as Error).message });
      options = { multiQueue, vnetHdr: false, offload: false };
      first = tunOpen(spec.name, options);
    }
    fds.push(first.fd);
    for (let q = 1; q < spec.queues; q++) fds.push(tunOpenQueue(first.name, options).fd);
    linkSetMtu(first.name, spec.mtu);
    if (spec.address !== null) {
      addrAdd(first.name, spec.address);
      linkSetUp(first.name, true);
    }
    const setRoutes = (wanted: readonly string[]) => {
      for (const r of wanted) {
        if (routes.includes(r)) continue;
        routeAdd(first.name, r);
        routes.push(r);
      }
      for (const r of routes.filter((x) => !wanted.includes(x))) {
        routeDel(first.name, r);
        routes.splice(routes.indexOf(r), 1);
      }
    };
    setRoutes(spec.routes);
    return { name: first.name, fds, offload: options.offload, setRoutes, close };
  } catch (e) {
    close();
    throw e;
  }
}
