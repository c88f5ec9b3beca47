/**
 * The control block: the one argument of every batch call. It lives in the caller's
 * memory (the data plane's shared `WebAssembly.Memory`) at an offset the caller chooses,
 * so one FFI call carries a whole batch and C reads its parameters straight from there.
 *
 * Layout (128 bytes, little-endian, 8-byte aligned; pointers are absolute addresses, i.e.
 * memory base address + offset; see {@link BatchControl.addressOf}):
 *
 * | offset | type | field | meaning |
 * |---|---|---|---|
 * | 0 | i32 | fd | socket or TUN fd |
 * | 4 | u32 | flags | send: {@link SEND_COALESCE}; poll: bit i = also wait for fds[i] writable |
 * | 8 | u32 | count | in: slots (<= {@link MAX_BATCH}) or poll fds; out: packets done |
 * | 12 | u32 | stride | bytes between slots; slot i at bufferPtr + i*stride |
 * | 16 | u64 | bufferPtr | address of slot 0 |
 * | 24 | u64 | lengthsPtr | u32[count]: send/write in (bytes), recv/read out (bytes) |
 * | 32 | u64 | addrsPtr | 24-byte address records: send in, recv out (0 = not wanted) |
 * | 40 | u64 | segsPtr | recv out: u32[count] GRO segment size, 0 = one datagram (0 = not wanted) |
 * | 48 | u32 | capacity | recv/read: bytes each slot can take, 0 = stride (<= stride) |
 * | 52 | u32 | segSize | send: UDP_SEGMENT size for slots longer than it, 0 = off |
 * | 56 | u32 | errno | out: errno that stopped the batch early or dropped a packet, 0 = none |
 * | 60 | i32 | timeoutMs | poll: -1 = forever |
 * | 64 | u32 | ready | poll out: bit i = fds[i] ready |
 * | 68 | u32 | reserved | |
 * | 72 | i32[8] | pollFds | poll in |
 * | 104 | 24 bytes | reserved | |
 * @module
 */
import { arg, DataType, slowCall } from "./load.js";

/** Size of a control block in bytes. */
export const CB_SIZE = 128;
/** Required alignment of a control block's offset. */
export const CB_ALIGN = 8;
/** Most packets in one batch (and so the most slots a control block may describe). */
export const MAX_BATCH = 64;
/** Most fds in one pollWait. */
export const MAX_POLL_FDS = 8;
/** Length of the virtio-net header that precedes each TUN packet with `vnetHdr`. */
export const VNET_HDR_LEN = 10;

/** Control-block field offsets. */
export const CB_FD = 0;
export const CB_FLAGS = 4;
export const CB_COUNT = 8;
export const CB_STRIDE = 12;
export const CB_BUFFER_PTR = 16;
export const CB_LENGTHS_PTR = 24;
export const CB_ADDRS_PTR = 32;
export const CB_SEGS_PTR = 40;
export const CB_CAPACITY = 48;
export const CB_SEG_SIZE = 52;
export const CB_ERRNO = 56;
export const CB_TIMEOUT_MS = 60;
export const CB_READY = 64;
export const CB_POLL_FDS = 72;

/**
 * tunReadBatch / tunWriteBatch flag for a queue opened with `vnetHdr`: reads cut the
 * kernel's offload super-packets (TSO/USO, up to 64 KiB) into plain IP packets of at most
 * the MTU, with their headers and checksums, and complete partial checksums; writes add an
 * empty virtio-net header. The caller sees plain IP packets either way.
 */
export const TUN_VNET = 0x2;

/** udpSendBatch flag: send runs of consecutive packets to the same peer, all of one size
 * (the last may be shorter), as one UDP_SEGMENT (GSO) datagram train. */
export const SEND_COALESCE = 0x1;

/** A `WebAssembly.Memory` (typed structurally: this package's lib setting, ES2022, does not
 * declare the WebAssembly namespace). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

const MemoryClass = (globalThis as unknown as { WebAssembly: { Memory: new (...a: never[]) => WasmMemory } }).WebAssembly.Memory;
const TWO32 = 2 ** 32;
const bases = new WeakMap<WasmMemory, number>();

/**
 * The absolute address of a `WebAssembly.Memory`'s first byte, learnt once by passing a
 * one-byte view of it to C. A shared memory with a maximum never moves, and has the same
 * address in every worker.
 *
 * @example
 * const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true });
 * const base = memoryAddress(memory);
 */
export function memoryAddress(memory: WasmMemory): number {
  if (!(memory instanceof MemoryClass)) throw new TypeError("memoryAddress: expected a WebAssembly.Memory");
  let base = bases.get(memory);
  if (base === undefined) {
    if (memory.buffer.byteLength === 0) throw new RangeError("memoryAddress: the memory is empty");
    base = slowCall("tt_mem_address", DataType.U64, [arg.bytes(new Uint8Array(memory.buffer, 0, 1))]);
    if (!Number.isSafeInteger(base) || base === 0) throw new Error(`memoryAddress: implausible address ${base}`);
    bases.set(memory, base);
  }
  return base;
}

/** Which pointers an operation reads or writes. */
export interface BatchShape {
  addrs: "required" | "optional" | "none";
  lengths: boolean;
  segs: boolean;
}

/**
 * A typed view of one control block at `offset` in `memory`. Pointer fields are
 * absolute addresses; {@link BatchControl.addressOf} turns an offset into one, and
 * {@link BatchControl.setup} fills the block from offsets.
 *
 * @example
 * const cb = new BatchControl(memory, 0);
 * cb.setup({ fd, count: 64, buffer: 4096, stride: 2048, lengths: 1024, addrs: 2048 });
 * const n = udpRecvBatch(cb);
 */
export class BatchControl {
  /** Absolute address of the memory's first byte. */
  readonly base: number;
  /** Absolute address of this control block (what the C function receives). */
  readonly address: number;
  private readonly view: DataView;
  private end: number;

  constructor(
    readonly memory: WasmMemory,
    readonly offset: number,
  ) {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % CB_ALIGN !== 0) {
      throw new RangeError(`BatchControl: offset ${offset} must be a non-negative multiple of ${CB_ALIGN}`);
    }
    if (offset + CB_SIZE > memory.buffer.byteLength) throw new RangeError(`BatchControl: block at ${offset} is outside the memory`);
    this.base = memoryAddress(memory);
    this.address = this.base + offset;
    this.view = new DataView(memory.buffer, offset, CB_SIZE);
    this.end = this.base + memory.buffer.byteLength;
  }

  /** Absolute address of byte `offset` of the memory. */
  addressOf(offset: number): number {
    return this.base + offset;
  }

  get fd(): number { return this.view.getInt32(CB_FD, true); }
  set fd(v: number) { this.view.setInt32(CB_FD, v, true); }
  get flags(): number { return this.view.getUint32(CB_FLAGS, true); }
  set flags(v: number) { this.view.setUint32(CB_FLAGS, v, true); }
  get count(): number { return this.view.getUint32(CB_COUNT, true); }
  set count(v: number) { this.view.setUint32(CB_COUNT, v, true); }
  get stride(): number { return this.view.getUint32(CB_STRIDE, true); }
  set stride(v: number) { this.view.setUint32(CB_STRIDE, v, true); }
  get bufferPtr(): number { return this.getPtr(CB_BUFFER_PTR); }
  set bufferPtr(v: number) { this.setPtr(CB_BUFFER_PTR, v); }
  get lengthsPtr(): number { return this.getPtr(CB_LENGTHS_PTR); }
  set lengthsPtr(v: number) { this.setPtr(CB_LENGTHS_PTR, v); }
  get addrsPtr(): number { return this.getPtr(CB_ADDRS_PTR); }
  set addrsPtr(v: number) { this.setPtr(CB_ADDRS_PTR, v); }
  get segsPtr(): number { return this.getPtr(CB_SEGS_PTR); }
  set segsPtr(v: number) { this.setPtr(CB_SEGS_PTR, v); }
  get capacity(): number { return this.view.getUint32(CB_CAPACITY, true); }
  set capacity(v: number) { this.view.setUint32(CB_CAPACITY, v, true); }
  get segSize(): number { return this.view.getUint32(CB_SEG_SIZE, true); }
  set segSize(v: number) { this.view.setUint32(CB_SEG_SIZE, v, true); }
  /** errno left by the last call (0 = none). */
  get errno(): number { return this.view.getUint32(CB_ERRNO, true); }
  set errno(v: number) { this.view.setUint32(CB_ERRNO, v, true); }
  get timeoutMs(): number { return this.view.getInt32(CB_TIMEOUT_MS, true); }
  set timeoutMs(v: number) { this.view.setInt32(CB_TIMEOUT_MS, v, true); }
  get ready(): number { return this.view.getUint32(CB_READY, true); }

  /** Poll fd i (0 <= i < MAX_POLL_FDS). */
  pollFd(i: number): number { return this.view.getInt32(CB_POLL_FDS + 4 * i, true); }
  /** Sets the poll fds (count becomes their number). */
  setPollFds(fds: readonly number[]): this {
    if (fds.length === 0 || fds.length > MAX_POLL_FDS) throw new RangeError(`pollWait: 1..${MAX_POLL_FDS} fds, got ${fds.length}`);
    fds.forEach((fd, i) => {
      checkFd(fd, "pollWait");
      this.view.setInt32(CB_POLL_FDS + 4 * i, fd, true);
    });
    this.count = fds.length;
    return this;
  }

  /**
   * Fills the block for a packet batch from memory OFFSETS (converted to addresses here).
   * Omitted optional pointers become 0 (not wanted).
   */
  setup(o: {
    fd: number; count: number; buffer: number; stride: number; lengths: number;
    addrs?: number; segs?: number; capacity?: number; flags?: number; segSize?: number;
  }): this {
    checkFd(o.fd, "BatchControl.setup");
    this.fd = o.fd;
    this.count = o.count;
    this.bufferPtr = this.base + o.buffer;
    this.stride = o.stride;
    this.lengthsPtr = this.base + o.lengths;
    this.addrsPtr = o.addrs === undefined ? 0 : this.base + o.addrs;
    this.segsPtr = o.segs === undefined ? 0 : this.base + o.segs;
    this.capacity = o.capacity ?? 0;
    this.flags = o.flags ?? 0;
    this.segSize = o.segSize ?? 0;
    this.errno = 0;
    return this;
  }

  /**
   * Checks that every region the block names lies inside the memory, before C touches
   * it (C trusts these pointers; a bad one would corrupt or crash the process).
   * Throws a RangeError naming the field.
   */
  validate(op: string, shape: BatchShape): void {
    const fd = this.fd;
    if (fd < 0) throw new RangeError(`${op}: fd ${fd} is negative`);
    const count = this.count;
    if (count > MAX_BATCH) throw new RangeError(`${op}: count ${count} is over MAX_BATCH (${MAX_BATCH})`);
    if (count === 0) return;
    const stride = this.stride;
    if (stride === 0) throw new RangeError(`${op}: stride is 0`);
    if (this.capacity > stride) throw new RangeError(`${op}: capacity ${this.capacity} is over the stride ${stride}`);
    this.region(op, "bufferPtr", this.bufferPtr, stride * count);
    if (shape.lengths) this.region(op, "lengthsPtr", this.lengthsPtr, 4 * count);
    const addrs = this.addrsPtr;
    if (shape.addrs === "required" || (shape.addrs === "optional" && addrs !== 0)) this.region(op, "addrsPtr", addrs, 24 * count);
    const segs = this.segsPtr;
    if (segs !== 0 && shape.segs) this.region(op, "segsPtr", segs, 4 * count);
  }

  private region(op: string, field: string, ptr: number, len: number): void {
    if (ptr >= this.base && ptr + len <= this.end) return;
    this.end = this.base + this.memory.buffer.byteLength; // the memory may have grown
    if (ptr >= this.base && ptr + len <= this.end) return;
    throw new RangeError(
      `${op}: ${field} region [${ptr - this.base}, ${ptr - this.base + len}) (memory offsets) is outside the memory of ${this.end - this.base} bytes`,
    );
  }

  private getPtr(at: number): number {
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * TWO32;
  }

  private setPtr(at: number, v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`pointer ${v} is not a non-negative safe integer`);
    this.view.setUint32(at, v % TWO32, true);
    this.view.setUint32(at + 4, Math.floor(v / TWO32), true);
  }
}

/** Throws unless `fd` is a non-negative 32-bit integer (ffi-rs aborts on a wrong type). */
export function checkFd(fd: unknown, op: string): asserts fd is number {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`${op}: fd must be a non-negative integer, got ${String(fd)}`);
  }
}
