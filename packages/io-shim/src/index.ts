/**
 * @taltun/io-shim: the only code in Taltun that makes system calls on the data path.
 * A small C library (TUN, rtnetlink, batched UDP, poll/eventfd) called through ffi-rs,
 * one call per batch, with packets moved straight in the caller's (shared WASM) memory.
 * See README.md for the control-block layout, the address record and the error model.
 * @module
 */

/** Package version, kept in step with package.json. */
export const VERSION = "0.1.1";

export { IoShimLoadError, PREBUILT_TARGETS, libraryPath, loadIoShim } from "./load.js";
export { SysError, check, errnoCode, errnoName } from "./errors.js";
export * from "./address.js";
export * from "./batch.js";
export { GRO_BUFFER_BYTES, GRO_DATA, GRO_MAX_BUFFERS, groAreaBytes, initGroArea } from "./gro.js";
export { socketGetMark, socketSetMark, udpOpen, udpPort, udpRecvBatch, udpSendBatch, type UdpOptions, type UdpSocket } from "./udp.js";
export * from "./tun.js";
export { closeFd, eventfdOpen, eventfdRead, eventfdWrite, pollWait } from "./poll.js";
export { addrAdd, addrDel, linkIndex, linkSetMtu, linkSetUp, routeAdd, routeDel } from "./netlink.js";
export { netnsEnter, netnsRestore, withNetns } from "./netns.js";
export { probeFeatures, type Features } from "./probe.js";
