/**
 * Which kernel features this machine offers, found by trying each (a transient TUN
 * device in the calling thread's namespace, gone at once, and an unbound UDP socket).
 * @module
 */
import { DataType, slowCall } from "./load.js";

/** Kernel features found by {@link probeFeatures}. */
export interface Features {
  tun: boolean;
  tunMultiQueue: boolean;
  tunVnetHdr: boolean;
  /** TUNSETOFFLOAD with CSUM|TSO4|TSO6. */
  tunOffloadTso: boolean;
  /** TUNSETOFFLOAD with USO4|USO6 (Linux 6.2+). */
  tunOffloadUso: boolean;
  udpSegment: boolean;
  udpGro: boolean;
  soReuseport: boolean;
  /** SO_RCVBUFFORCE allowed (root / CAP_NET_ADMIN). */
  rcvbufForce: boolean;
}

/** Probes the kernel (needs root for the TUN and FORCE parts; they read false otherwise). */
export function probeFeatures(): Features {
  const f = slowCall("tt_probe", DataType.I32, []);
  return {
    tun: (f & 0x1) !== 0,
    tunMultiQueue: (f & 0x2) !== 0,
    tunVnetHdr: (f & 0x4) !== 0,
    tunOffloadTso: (f & 0x8) !== 0,
    tunOffloadUso: (f & 0x10) !== 0,
    udpSegment: (f & 0x20) !== 0,
    udpGro: (f & 0x40) !== 0,
    soReuseport: (f & 0x80) !== 0,
    rcvbufForce: (f & 0x100) !== 0,
  };
}
