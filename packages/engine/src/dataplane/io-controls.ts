/**
 * The io-shim control blocks of one worker, set up once over its regions: where each
 * batch call (UDP receive, TUN write, relay send, TUN read, send) reads and writes. A
 * GRO area is initialised first when the socket merges datagrams into trains.
 */
import { BatchControl, GRO_BUFFER_BYTES, initGroArea, TUN_VNET } from "@taltun/io-shim";
import { BATCH, GRO_BUFFERS, HEADROOM, tunReadCapacity, type WorkerRegions } from "./regions.js";

/** The five batch calls' control blocks of a worker. */
export interface WorkerControls {
  recv: BatchControl;
  tunWrite: BatchControl;
  relaySend: BatchControl;
  tunRead: BatchControl;
  send: BatchControl;
}

/**
 * Set up the control blocks over regions `r`, for the given sockets; `sendFlags` go to the
 * two UDP sends (SEND_COALESCE when the socket has GSO).
 */
export function setupControls(
  memory: WebAssembly.Memory, r: WorkerRegions,
  o: { udpFd: number; tunFd: number; tunVnet: boolean; udpGro?: boolean }, sendFlags: number,
): WorkerControls {
  const stride = r.slotStride;
  // Trains are cut into the same slots single datagrams take, before anything looks at
  // them: prepareOpen and everything after it see exactly the packets the peer sent.
  if (o.udpGro) initGroArea(memory, r.groArea, GRO_BUFFERS, GRO_BUFFER_BYTES);
  const recv = new BatchControl(memory, r.cbRecv).setup({
    fd: o.udpFd, count: BATCH, buffer: r.rxPool, stride, lengths: r.rxLengths, addrs: r.rxAddrs, locals: r.rxLocals,
    gro: o.udpGro ? r.groArea : undefined,
  });
  const tunWrite = new BatchControl(memory, r.cbTunWrite).setup({
    fd: o.tunFd, count: BATCH, buffer: r.rxPool + HEADROOM, stride, lengths: r.tunWriteLengths,
    flags: o.tunVnet ? TUN_VNET : 0,
  });
  const relaySend = new BatchControl(memory, r.cbRelay).setup({
    fd: o.udpFd, count: BATCH, buffer: r.rxPool, stride, lengths: r.relayLengths, addrs: r.relayAddrs, locals: r.relayLocals, flags: sendFlags,
  });
  // Room after the packet for padding to 16 and the tag, before the next slot.
  const tunRead = new BatchControl(memory, r.cbTunRead).setup({
    fd: o.tunFd, count: BATCH, buffer: r.txPool + HEADROOM, stride, lengths: r.txLengths,
    capacity: tunReadCapacity(stride),
    flags: o.tunVnet ? TUN_VNET : 0,
  });
  const send = new BatchControl(memory, r.cbSend).setup({
    fd: o.udpFd, count: BATCH, buffer: r.txPool, stride, lengths: r.txLengths, addrs: r.txAddrs, locals: r.txLocals, flags: sendFlags,
  });
  return { recv, tunWrite, relaySend, tunRead, send };
}
