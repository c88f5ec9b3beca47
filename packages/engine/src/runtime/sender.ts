/**
 * The control plane's own way out: handshake messages, cookie replies and keepalives,
 * sent one at a time on one of the workers' sockets (they share the port). Rare enough
 * that one system call per message is right.
 */
import { BatchControl, CB_ALIGN, CB_SIZE, udpSendBatch } from "@taltun/io-shim";
import { ENDPOINT_BYTES } from "../tables/shared-tables.js";
import type { MemoryLayout } from "../dataplane/memory-layout.js";

const BUFFER = 2048;

export class ControlSender {
  private readonly cb: BatchControl;
  private readonly u8: Uint8Array;
  private readonly lengths: Uint32Array;
  private readonly buffer: number;
  private readonly addr: number;

  constructor(memory: WebAssembly.Memory, layout: MemoryLayout, fd: number) {
    this.buffer = layout.reserve("control.buffer", BUFFER);
    this.addr = layout.reserve("control.addr", ENDPOINT_BYTES);
    const lengths = layout.reserve("control.lengths", 4);
    this.cb = new BatchControl(memory, layout.reserve("control.cb", CB_SIZE, CB_ALIGN));
    this.cb.setup({ fd, count: 1, buffer: this.buffer, stride: BUFFER, lengths, addrs: this.addr });
    this.u8 = new Uint8Array(memory.buffer);
    this.lengths = new Uint32Array(memory.buffer, lengths, 1);
  }

  /** Sends from socket `fd` from now on (the listen port moved). */
  setFd(fd: number): void {
    this.cb.fd = fd;
  }

  /** Sends `bytes` to the endpoint record `endpoint`; false if the kernel refused it. */
  send(endpoint: Uint8Array, bytes: Uint8Array): boolean {
    if (bytes.length > BUFFER) throw new RangeError(`control message of ${bytes.length} bytes`);
    this.u8.set(bytes, this.buffer);
    this.u8.set(endpoint.subarray(0, ENDPOINT_BYTES), this.addr);
    this.lengths[0] = bytes.length;
    this.cb.count = 1;
    return udpSendBatch(this.cb) === 1;
  }
}
