/**
 * TUN devices (IFF_TUN | IFF_NO_PI), multi-queue and vnet-header options, and batched
 * packet reads and writes straight into caller memory. Fds are non-blocking.
 * @module
 */
import { type BatchControl, type BatchShape } from "./batch.js";
import { check } from "./errors.js";
import { arg, DataType, hotCall, slowCall } from "./load.js";

const TUN_MULTI_QUEUE = 0x1;
const TUN_VNET_HDR = 0x2;
const TUN_OFFLOAD = 0x4;

/** TUNSETOFFLOAD bits (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

/**
 * The virtio-net header (10 bytes, little-endian) in front of every packet read from or
 * written to a TUN opened with `vnetHdr` (linux/virtio_net.h). On reads with `offload`,
 * `gsoType` != 0 means the packet is a TSO/USO super-packet that the reader must cut into
 * `gsoSize`-byte segments; on writes, all zero means a plain, complete packet.
 */
export const VNET_FLAGS = 0; // u8: VNET_F_NEEDS_CSUM
export const VNET_GSO_TYPE = 1; // u8: VNET_GSO_*
export const VNET_HDR_LEN_FIELD = 2; // u16: bytes of headers (IP + TCP/UDP)
export const VNET_GSO_SIZE = 4; // u16: payload bytes per segment
export const VNET_CSUM_START = 6; // u16: where the checksum's coverage starts
export const VNET_CSUM_OFFSET = 8; // u16: where the checksum goes, from csumStart
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_UDP_L4 = 5;

/** Options of {@link tunOpen}. */
export interface TunOptions {
  /** IFF_MULTI_QUEUE: one fd per worker, opened with {@link tunOpenQueue}. */
  multiQueue?: boolean;
  /** IFF_VNET_HDR with TUNSETVNETHDRSZ 10: each packet starts with a virtio-net header. */
  vnetHdr?: boolean;
  /** TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6 (USO dropped on kernels without it). Needs vnetHdr. */
  offload?: boolean;
}

/** An open TUN queue. */
export interface Tun {
  fd: number;
  /** The device name the kernel gave (the asked one, or `tunN` when asked for ""). */
  name: string;
  /** The TUNSETOFFLOAD mask in force (0 without offload). */
  offload: number;
}

/** Checks an interface name the way the kernel will (IFNAMSIZ 16, no '/', no spaces). */
export function checkIfName(name: unknown, op: string, allowEmpty = false): asserts name is string {
  if (typeof name !== "string" || (!allowEmpty && name.length === 0) || Buffer.byteLength(name) > 15 || /[\s/:\0]/.test(name)) {
    throw new TypeError(`${op}: invalid interface name ${JSON.stringify(name)} (1-15 bytes, no spaces, '/' or ':')`);
  }
}

/**
 * Opens the TUN device `name` (created if missing; "" lets the kernel name it). Needs root
 * or CAP_NET_ADMIN (a {@link SysError} EPERM, or EACCES when /dev/net/tun is mode 0600,
 * says so).
 *
 * @example
 * const tun = tunOpen("tt0", { multiQueue: true });
 * const q2 = tunOpenQueue(tun.name, { multiQueue: true });
 */
export function tunOpen(name: string, o: TunOptions = {}): Tun {
  checkIfName(name, "tun open", true);
  if (o.offload && !o.vnetHdr) throw new TypeError("tun open: offload needs vnetHdr");
  const flags = (o.multiQueue ? TUN_MULTI_QUEUE : 0) | (o.vnetHdr ? TUN_VNET_HDR : 0) | (o.offload ? TUN_OFFLOAD : 0);
  const out = new Uint8Array(20);
  const fd = check("tun open", slowCall("tt_tun_open", DataType.I32, [arg.str(name), arg.i32(flags), arg.bytes(out)]), name || "(any name)");
  const nul = out.indexOf(0);
  return {
    fd,
    name: Buffer.from(out.subarray(0, nul < 0 || nul > 16 ? 16 : nul)).toString(),
    offload: new DataView(out.buffer).getUint32(16, true),
  };
}

/** Attaches one more queue to a multi-queue device; options must match the first queue's. */
export function tunOpenQueue(name: string, o: TunOptions = {}): Tun {
  checkIfName(name, "tun open");
  return tunOpen(name, { ...o, multiQueue: true });
}

/** What a TUN device is now, asked through one of its fds (see {@link tunInfo}). */
export interface TunInfo {
  /** Its current name (it may have been renamed). */
  name: string;
  /** Its current MTU, wherever it lives. */
  mtu: number;
  /** Its interface index in the namespace it lives in. */
  index: number;
}

/**
 * The name, MTU and index of the TUN device behind `fd`, as they are now, also after the
 * device was renamed, moved to another network namespace or given another MTU from
 * outside. Throws SysError EBADFD once the device was deleted (e.g. `ip link del`).
 */
export function tunInfo(fd: number): TunInfo {
  const out = new Uint8Array(24);
  check("tun info", slowCall("tt_tun_info", DataType.I32, [arg.i32(fd), arg.bytes(out)]));
  const nul = out.indexOf(0);
  const view = new DataView(out.buffer);
  return { name: Buffer.from(out.subarray(0, nul < 0 || nul > 16 ? 16 : nul)).toString(), mtu: view.getUint32(16, true), index: view.getUint32(20, true) };
}

const SHAPE: BatchShape = { lengths: true, addrs: "none", segs: false };
const readCall = hotCall("tt_tun_read_batch");
const writeCall = hotCall("tt_tun_write_batch");

/**
 * Reads up to `cb.count` packets (one read each, until EAGAIN) into the slots, lengths[i]
 * set. A packet (with {@link TUN_VNET}: a segment) longer than its slot (`capacity`, or
 * the slot table entry's) is dropped with `cb.errno` = EMSGSIZE, and the next packet takes
 * that slot. Returns the number read (0 if none waiting) or -errno; `cb.errno` is set if
 * an error ended the batch after some packets.
 */
export function tunReadBatch(cb: BatchControl): number {
  cb.validate("tun read", SHAPE);
  return readCall(cb.address);
}

/**
 * Writes `cb.count` packets (slot i, lengths[i] bytes; a slot of length 0 is a hole and is
 * skipped). Returns the number written; it
 * stops early at EAGAIN or at a packet the kernel rejects (`cb.errno` says which: skip it
 * and write the rest), or -errno when the first write fails. A length over its slot's
 * size (the stride, or the slot table entry's capacity) refuses the whole batch unwritten
 * (-EINVAL).
 */
export function tunWriteBatch(cb: BatchControl): number {
  cb.validate("tun write", SHAPE);
  return writeCall(cb.address);
}
