/**
 * The data plane's seam to the kernel: the four batch calls a worker makes, one FFI call
 * per batch each. The shim's functions are one implementation; tests put an in-memory one
 * in their place (test/fake-io.ts), as wireguard-go tests its device with tuntest and
 * bindtest, so the packet loop runs without root.
 * @module
 */
import { type BatchControl, tunReadBatch, tunWriteBatch, udpRecvBatch, udpSendBatch } from "@taltun/io-shim";

/**
 * Batch I/O over control blocks (io-shim's contract: `cb.count` slots in, the number done
 * out, `cb.errno` for what stopped a batch early; a slot of length 0 is a hole).
 */
export interface BatchIo {
  /** recvmmsg: datagrams into the slots, their lengths and source records. */
  udpRecv(cb: BatchControl): number;
  /** sendmmsg: the slots of non-zero length to their address records. */
  udpSend(cb: BatchControl): number;
  /** TUN reads: packets into the slots, with their lengths. */
  tunRead(cb: BatchControl): number;
  /** TUN writes of the slots of non-zero length; stops at a packet the kernel rejects. */
  tunWrite(cb: BatchControl): number;
}

/** The real thing: io-shim's C library. */
export const shimIo: BatchIo = {
  udpRecv: udpRecvBatch,
  udpSend: udpSendBatch,
  tunRead: tunReadBatch,
  tunWrite: tunWriteBatch,
};
