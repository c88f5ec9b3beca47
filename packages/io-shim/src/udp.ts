/**
 * UDP sockets and batched datagram I/O (recvmmsg/sendmmsg straight into caller memory).
 * Sockets are non-blocking; wait with {@link pollWait}.
 * @module
 */
import { AF_INET, AF_INET6, parseIp } from "./address.js";
import { type BatchControl, type BatchShape, checkFd } from "./batch.js";
import { check } from "./errors.js";
import { arg, DataType, hotCall, slowCall } from "./load.js";

const UDP_REUSEPORT = 0x1;
const UDP_GRO = 0x2;
const UDP_V6ONLY = 0x4;
const UDP_GSO = 0x8;

/** Options of {@link udpOpen}. */
export interface UdpOptions {
  /** Bind address: `0.0.0.0`, `::` (dual-stack unless `v6only`), `198.18.0.1`... Default `::`. */
  address?: string;
  /** Port; 0 = ephemeral (the bound port is returned). Default 0. */
  port?: number;
  /** SO_REUSEPORT, for one socket per worker on the same port. */
  reusePort?: boolean;
  /** Receive / send buffer bytes (SO_RCVBUFFORCE first, so root passes rmem_max). */
  rcvbuf?: number;
  sndbuf?: number;
  /** Check that UDP_SEGMENT (GSO send) is available; sends then use SEND_COALESCE / segSize. */
  gso?: boolean;
  /** UDP_GRO: receive coalesced datagrams, segment sizes reported through segsPtr. */
  gro?: boolean;
  /** IPv6 only (no v4-mapped peers). Default false: dual-stack. */
  v6only?: boolean;
  /**
   * SO_MARK, the firewall mark policy routing and nftables match on (what `wg set IF
   * fwmark` sets), a u32; 0 (the default) leaves it unset. Needs CAP_NET_ADMIN.
   */
  mark?: number;
}

/** An open UDP socket. */
export interface UdpSocket {
  fd: number;
  port: number;
  family: typeof AF_INET | typeof AF_INET6;
}

function checkInt(v: unknown, name: string, min: number, max: number): number {
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`udpOpen: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

/**
 * Opens a non-blocking UDP socket and binds it. Every socket reports where each datagram
 * arrived (IP_PKTINFO, and IPV6_RECVPKTINFO on an IPv6 socket; a dual-stack one gets both),
 * for the local address records of {@link udpRecvBatch}.
 *
 * @example
 * const { fd, port } = udpOpen({ address: "0.0.0.0", port: 51820, reusePort: true, rcvbuf: 4 << 20 });
 */
export function udpOpen(o: UdpOptions = {}): UdpSocket {
  const ip = parseIp(o.address ?? "::");
  const port = checkInt(o.port, "port", 0, 65535);
  const rcvbuf = checkInt(o.rcvbuf, "rcvbuf", 0, 0x7fffffff);
  const sndbuf = checkInt(o.sndbuf, "sndbuf", 0, 0x7fffffff);
  const mark = checkMark(o.mark ?? 0, "udpOpen");
  const flags = (o.reusePort ? UDP_REUSEPORT : 0) | (o.gro ? UDP_GRO : 0) | (o.v6only ? UDP_V6ONLY : 0) | (o.gso ? UDP_GSO : 0);
  const addr16 = new Uint8Array(16);
  addr16.set(ip.bytes);
  const fd = check(
    "udp open",
    slowCall("tt_udp_open", DataType.I32, [arg.i32(ip.family), arg.bytes(addr16), arg.i32(port), arg.i32(flags), arg.i32(rcvbuf), arg.i32(sndbuf), arg.i32(mark | 0)]),
    `${o.address ?? "::"} port ${port}`,
  );
  return { fd, port: udpPort(fd), family: ip.family };
}

function checkMark(mark: unknown, op: string): number {
  if (typeof mark !== "number" || !Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
    throw new RangeError(`${op}: mark must be an integer in [0, 2^32 - 1], got ${String(mark)}`);
  }
  return mark;
}

/**
 * Sets SO_MARK on a socket (any fd the shim opened): the firewall mark policy routing and
 * nftables match on, a u32; 0 clears it. Needs CAP_NET_ADMIN (a {@link SysError} EPERM
 * otherwise). Takes effect for the next datagram sent.
 *
 * @example
 * socketSetMark(sock.fd, 0xca6c); // wg set IF fwmark 0xca6c
 */
export function socketSetMark(fd: number, mark: number): void {
  checkFd(fd, "socket set mark");
  checkMark(mark, "socketSetMark");
  check("socket set mark", slowCall("tt_socket_set_mark", DataType.I32, [arg.i32(fd), arg.i32(mark | 0)]), `mark ${mark}`);
}

/** The SO_MARK of a socket (0: none), as getsockopt reads it back. */
export function socketGetMark(fd: number): number {
  checkFd(fd, "socket get mark");
  const out = new Uint8Array(4);
  check("socket get mark", slowCall("tt_socket_get_mark", DataType.I32, [arg.i32(fd), arg.bytes(out)]));
  return new DataView(out.buffer).getUint32(0, true);
}

/** The local port a UDP socket is bound to. */
export function udpPort(fd: number): number {
  checkFd(fd, "udp port");
  return check("udp port", slowCall("tt_udp_port", DataType.I32, [arg.i32(fd)]));
}

const RECV: BatchShape = { lengths: true, addrs: "optional", segs: true, locals: true, gro: true };
const SEND: BatchShape = { lengths: true, addrs: "required", segs: false, locals: true };
const recvCall = hotCall("tt_udp_recv_batch");
const sendCall = hotCall("tt_udp_send_batch");

/**
 * Receives up to `cb.count` datagrams with one recvmmsg: slot i gets datagram i (at most
 * `capacity` bytes, default the stride, or with a slot table its entry's capacity),
 * lengths[i] its size, addrs[i] its sender (v4-mapped shown as IPv4), segs[i] its GRO
 * segment size (0: a single datagram), locals[i] where it arrived (its destination address
 * and interface index: a local address record; family 0 if the kernel said nothing). A
 * datagram longer than its slot is cut to the slot's size, nothing is written past it,
 * and `cb.errno` is EMSGSIZE. Returns the number received (0 when none is waiting) or
 * -errno; `cb.count` is set to the same.
 *
 * With a GRO area (`cb.groPtr`, {@link initGroArea}; for a socket opened with `gro`),
 * datagrams are received there whole and cut into the slots: a GRO train of segments of
 * segs[i] bytes (the last may be shorter) gives one slot per segment, each with the
 * train's sender and local address, so slot i holds one datagram as the sender sent it.
 * What does not fit in `cb.count` slots stays in the area and is returned first by the
 * next call (call again while it returns `cb.count`). Nothing is ever cut: a datagram
 * the kernel cut short (MSG_TRUNC) or a segment longer than its slot is dropped whole and
 * counted in `cb.truncated`; `cb.trains` counts the trains received.
 */
export function udpRecvBatch(cb: BatchControl): number {
  cb.validate("udp recv", RECV);
  return recvCall(cb.address);
}

/**
 * Sends `cb.count` datagrams with sendmmsg, slot i (lengths[i] bytes) to addrs[i]; a slot
 * of length 0 is a hole (a packet the caller dropped) and is skipped. With
 * {@link SEND_COALESCE} runs of same-peer, same-size packets go out as one GSO message;
 * one the kernel refuses (segments over the path MTU, a device that cannot segment) goes
 * out a packet at a time instead, counted in `cb.gsoFallbacks`; with `segSize` a slot
 * longer than it is split by the kernel.
 *
 * With `localsPtr`, slot i leaves from the address of local record i (IP_PKTINFO /
 * IPV6_PKTINFO; family 0, or a family other than the peer's: the kernel picks), and a GSO
 * run shares one source. When the kernel refuses a message with its source (ENETUNREACH,
 * EINVAL, EADDRNOTAVAIL, ENODEV: the address was removed from the host) and takes it
 * without, it goes without (falls over): those records come back with family 0, their
 * address kept so the caller knows which source to forget, and `cb.fallbacks` counts the
 * packets. Returns the number of
 * packets consumed (sent, or dropped because the kernel refused that one datagram, with
 * `cb.errno` set), fewer when the socket buffer is full (EAGAIN/ENOBUFS in `cb.errno`),
 * or -errno when nothing could be sent (EBADF; EINVAL for a length over its slot's size,
 * the stride or the slot table entry's capacity: the whole batch is refused unsent).
 */
export function udpSendBatch(cb: BatchControl): number {
  cb.validate("udp send", SEND);
  if (cb.segSize > 0xffff) throw new RangeError(`udp send: segSize ${cb.segSize} is over 65535`);
  return sendCall(cb.address);
}
