/**
 * The control plane's own way out: handshake messages, cookie replies and keepalives,
 * sent one at a time on one of the workers' sockets (they share the port). Rare enough
 * that one system call per message is right. Each leaves from the local address it is
 * given (where the peer reached us: the sticky source), or from the kernel's choice.
 */
import { BatchControl, CB_ALIGN, CB_SIZE, udpSendBatch } from "@taltun/io-shim";
import { LOCAL_BYTES } from "../tables/peer-slot.js";
import { ENDPOINT_BYTES } from "../tables/shared-tables.js";
import type { MemoryLayout } from "../dataplane/memory-layout.js";

const BUFFER = 2048;

export class ControlSender {
  private readonly cb: BatchControl;
  private readonly u8: Uint8Array;
  private readonly lengths: Uint32Array;
  private readonly buffer: number;
  private readonly addr: number;
  /** Byte offset of the local address record the last message was sent from (see {@link fellOver}). */
  readonly local: number;
  /** The last message's local address was refused (it left the host) and the kernel's choice used: the record at {@link local} names it. */
  fellOver = false;

  constructor(memory: WebAssembly.Memory, layout: MemoryLayout, fd: number) {
    this.buffer = layout.reserve("control.buffer", BUFFER);
    this.addr = layout.reserve("control.addr", ENDPOINT_BYTES);
    this.local = layout.reserve("control.local", LOCAL_BYTES);
    const lengths = layout.reserve("control.lengths", 4);
    this.cb = new BatchControl(memory, layout.reserve("control.cb", CB_SIZE, CB_ALIGN));
    this.cb.setup({ fd, count: 1, buffer: this.buffer, stride: BUFFER, lengths, addrs: this.addr, locals: this.local });
    this.u8 = new Uint8Array(memory.buffer);
    this.lengths = new Uint32Array(memory.buffer, lengths, 1);
  }

  /** Sends from socket `fd` from now on (the listen port moved). */
  setFd(fd: number): void {
    this.cb.fd = fd;
  }

  /**
   * Sends `bytes` to the endpoint record `endpoint`, from the local address record `local`
   * (none, or family 0: the kernel picks); false if the kernel refused it.
   */
  send(endpoint: Uint8Array, bytes: Uint8Array, local?: Uint8Array): boolean {
    if (bytes.length > BUFFER) throw new RangeError(`control message of ${bytes.length} bytes`);
    this.u8.set(bytes, this.buffer);
    this.u8.set(endpoint.subarray(0, ENDPOINT_BYTES), this.addr);
    this.u8.fill(0, this.local, this.local + LOCAL_BYTES);
    if (local) this.u8.set(local.subarray(0, LOCAL_BYTES), this.local);
    this.lengths[0] = bytes.length;
    this.cb.count = 1;
    const sent = udpSendBatch(this.cb) === 1;
    this.fellOver = this.cb.fallbacks > 0;
    return sent;
  }
}
