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
 * | 12 | u32 | stride | bytes between slots; slot i at bufferPtr + i*stride (0 with slotsPtr) |
 * | 16 | u64 | bufferPtr | address of slot 0 (0 with slotsPtr) |
 * | 24 | u64 | lengthsPtr | u32[count]: send/write in (bytes, <= the slot's size), recv/read out (bytes) |
 * | 32 | u64 | addrsPtr | 24-byte address records: send in, recv out (0 = not wanted) |
 * | 40 | u64 | segsPtr | recv out: u32[count] GRO segment size, 0 = one datagram (0 = not wanted) |
 * | 48 | u32 | capacity | recv/read: bytes each slot can take, 0 = stride (<= stride; 0 with slotsPtr) |
 * | 52 | u32 | segSize | send: UDP_SEGMENT size for slots longer than it, 0 = off |
 * | 56 | u32 | errno | out: errno that stopped the batch early or dropped a packet, 0 = none |
 * | 60 | i32 | timeoutMs | poll: -1 = forever |
 * | 64 | u32 | ready | poll out: bit i = fds[i] ready |
 * | 68 | u32 | reserved | |
 * | 72 | i32[8] | pollFds | poll in |
 * | 72 | u64 | groPtr | udp recv in (shares the poll fds' room): a GRO area ({@link initGroArea}), 0 = straight into the slots |
 * | 80 | u32 | truncated | udp recv out, with groPtr: datagrams or segments dropped, cut short (MSG_TRUNC) or longer than their slot |
 * | 84 | u32 | trains | udp recv out, with groPtr: datagrams that held several segments (GRO trains) |
 * | 104 | u64 | slotsPtr | slot table: `count` 16-byte entries, slot i wherever entry i says; 0 = stride layout |
 * | 112 | u64 | localsPtr | udp: `count` 24-byte local address records; recv out (where datagram i arrived), send in (source of slot i, family 0 = the kernel's choice; out: family 0, address kept, where it was refused); 0 = not wanted / none |
 * | 120 | u32 | fallbacks | udp send out: packets sent without their source because the kernel refused it (the address is gone) |
 * | 124 | u32 | gsoFallbacks | udp send out: coalesced (UDP_SEGMENT) messages the kernel refused, sent one packet at a time |
 *
 * A slot table entry ({@link SLOT_ENTRY_SIZE} bytes; {@link writeSlotTable} writes them):
 *
 * | offset | type | field | meaning |
 * |---|---|---|---|
 * | 0 | u64 | address | absolute address of the slot's first byte |
 * | 8 | u32 | capacity | bytes the slot holds (> 0): recv/read take at most this, send/write lengths must not exceed it |
 * | 12 | u32 | reserved | 0 |
 * @module
 */
import { GRO_DATA, GRO_MAX_BUFFERS, groAreaBytes } from "./gro.js";
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
export const CB_SLOTS_PTR = 104;
export const CB_LOCALS_PTR = 112;
export const CB_FALLBACKS = 120;
export const CB_GRO_PTR = 72;
export const CB_TRUNCATED = 80;
export const CB_TRAINS = 84;
export const CB_GSO_FALLBACKS = 124;

/** Bytes of one slot-table entry, and its field offsets. */
export const SLOT_ENTRY_SIZE = 16;
export const SLOT_ADDRESS = 0;
export const SLOT_CAPACITY = 8;

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

/** What {@link BatchControl.setup} takes: memory offsets, converted to addresses there. */
export interface BatchSetup {
  fd: number;
  count: number;
  /** Stride layout: offset of slot 0, with `stride`. Leave out with `slots`. */
  buffer?: number;
  /** Stride layout: bytes between slots. Leave out with `slots`. */
  stride?: number;
  /** Offset of a slot table ({@link writeSlotTable}): `count` entries, each slot its own size. */
  slots?: number;
  lengths: number;
  addrs?: number;
  segs?: number;
  /** udp: offset of `count` local address records (recv out, send in; see {@link BatchControl.localsPtr}). */
  locals?: number;
  /** Stride layout, recv/read: bytes each slot can take (default the stride). */
  capacity?: number;
  /** udp recv: offset of a GRO area ({@link initGroArea}); datagrams are received there and cut into the slots. */
  gro?: number;
  flags?: number;
  segSize?: number;
}

/** One slot of a slot table: where it is (a memory offset) and how many bytes it holds. */
export interface SlotEntry {
  offset: number;
  capacity: number;
}

/**
 * Writes a slot table at `tableOffset`: entry i says where slot i is (`offset`, stored as
 * an absolute address like every pointer of the control block) and how many bytes it
 * holds. Slots may differ in size, be anywhere in the memory and in any order. Written
 * once and reused: {@link BatchControl.setup} takes `slots: tableOffset`, and every batch
 * call then rereads the table, so an entry may be changed between calls.
 *
 * @example
 * // 2 KiB slots for plain packets and one 64 KiB slot for a GRO train
 * writeSlotTable(memory, 512, [
 *   { offset: 65536, capacity: 2048 },
 *   { offset: 67584, capacity: 2048 },
 *   { offset: 131072, capacity: 65536 },
 * ]);
 * cb.setup({ fd, count: 3, slots: 512, lengths: 1024, segs: 2048 });
 */
export function writeSlotTable(memory: WasmMemory, tableOffset: number, entries: readonly SlotEntry[]): void {
  const base = memoryAddress(memory);
  const size = memory.buffer.byteLength;
  if (!Array.isArray(entries)) throw new TypeError("writeSlotTable: entries must be an array of { offset, capacity }");
  if (!Number.isSafeInteger(tableOffset) || tableOffset < 0 || tableOffset + SLOT_ENTRY_SIZE * entries.length > size) {
    throw new RangeError(`writeSlotTable: tableOffset ${tableOffset} with ${entries.length} entries of ${SLOT_ENTRY_SIZE} bytes is outside the memory of ${size} bytes`);
  }
  entries.forEach((e, i) => {
    const { offset, capacity } = (e ?? {}) as Partial<SlotEntry>;
    if (typeof offset !== "number" || typeof capacity !== "number") {
      throw new TypeError(`writeSlotTable: entries[${i}] must be { offset: number, capacity: number }`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`writeSlotTable: entries[${i}].offset must be a non-negative integer, got ${offset}`);
    }
    if (!Number.isInteger(capacity) || capacity <= 0 || capacity > 0xffffffff) {
      throw new RangeError(`writeSlotTable: entries[${i}].capacity must be an integer in [1, 2^32 - 1], got ${capacity}`);
    }
    if (offset + capacity > size) {
      throw new RangeError(`writeSlotTable: entries[${i}] region [${offset}, ${offset + capacity}) is outside the memory of ${size} bytes`);
    }
  });
  const view = new DataView(memory.buffer, tableOffset, SLOT_ENTRY_SIZE * entries.length);
  entries.forEach((e, i) => {
    const at = i * SLOT_ENTRY_SIZE, address = base + e.offset;
    view.setUint32(at + SLOT_ADDRESS, address % TWO32, true);
    view.setUint32(at + SLOT_ADDRESS + 4, Math.floor(address / TWO32), true);
    view.setUint32(at + SLOT_CAPACITY, e.capacity, true);
    view.setUint32(at + SLOT_CAPACITY + 4, 0, true);
  });
}

/** Which pointers an operation reads or writes. */
export interface BatchShape {
  addrs: "required" | "optional" | "none";
  lengths: boolean;
  segs: boolean;
  /** Local address records (udp), when the block names them. */
  locals?: boolean;
  /** A GRO area (udp recv), when the block names one. */
  gro?: boolean;
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
  /** The whole memory, for reading slot tables (renewed if the memory grows). */
  private memView: DataView;
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
    this.memView = new DataView(memory.buffer);
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
  get slotsPtr(): number { return this.getPtr(CB_SLOTS_PTR); }
  set slotsPtr(v: number) { this.setPtr(CB_SLOTS_PTR, v); }
  /**
   * Local address records (24 B each, `encodeLocal`): udp recv writes where datagram i
   * arrived (its destination address and interface); udp send reads the source of slot i
   * (family 0: the kernel picks), and a source the kernel refused comes back with family 0
   * (its address kept) and counted in {@link fallbacks}. 0 = not wanted.
   */
  get localsPtr(): number { return this.getPtr(CB_LOCALS_PTR); }
  set localsPtr(v: number) { this.setPtr(CB_LOCALS_PTR, v); }
  /** udp send: packets that went without their source address, refused (gone from the host). */
  get fallbacks(): number { return this.view.getUint32(CB_FALLBACKS, true); }
  set fallbacks(v: number) { this.view.setUint32(CB_FALLBACKS, v, true); }
  /**
   * udp recv: a GRO area ({@link initGroArea}): datagrams, GRO trains among them, are
   * received there and cut into the slots one segment each; what does not fit stays for
   * the next call. Shares its bytes with the poll fds (a block is for one or the other).
   */
  get groPtr(): number { return this.getPtr(CB_GRO_PTR); }
  set groPtr(v: number) { this.setPtr(CB_GRO_PTR, v); }
  /** udp recv with {@link groPtr}: datagrams or segments dropped because cut short or longer than their slot. */
  get truncated(): number { return this.view.getUint32(CB_TRUNCATED, true); }
  /** udp recv with {@link groPtr}: datagrams that were GRO trains of several segments. */
  get trains(): number { return this.view.getUint32(CB_TRAINS, true); }
  /** udp send: coalesced messages the kernel refused (a path MTU, a device without segmentation), sent one packet at a time. */
  get gsoFallbacks(): number { return this.view.getUint32(CB_GSO_FALLBACKS, true); }
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
   * Slots are given either as `buffer` + `stride` (all one size) or as `slots`, the offset
   * of a slot table ({@link writeSlotTable}), never both. Omitted optional pointers
   * become 0 (not wanted).
   */
  setup(o: BatchSetup): this {
    checkFd(o.fd, "BatchControl.setup");
    const strided = o.buffer !== undefined || o.stride !== undefined;
    if (o.slots !== undefined && (strided || o.capacity !== undefined)) {
      throw new TypeError("BatchControl.setup: give slots (a slot table) or buffer + stride (+ capacity), not both");
    }
    if (o.slots === undefined && (o.buffer === undefined || o.stride === undefined)) {
      throw new TypeError("BatchControl.setup: buffer and stride are needed unless slots (a slot table) is given");
    }
    this.fd = o.fd;
    this.count = o.count;
    this.bufferPtr = o.buffer === undefined ? 0 : this.base + o.buffer;
    this.stride = o.stride ?? 0;
    this.slotsPtr = o.slots === undefined ? 0 : this.base + o.slots;
    this.lengthsPtr = this.base + o.lengths;
    this.addrsPtr = o.addrs === undefined ? 0 : this.base + o.addrs;
    this.segsPtr = o.segs === undefined ? 0 : this.base + o.segs;
    this.localsPtr = o.locals === undefined ? 0 : this.base + o.locals;
    this.fallbacks = 0;
    this.view.setUint32(CB_GSO_FALLBACKS, 0, true);
    this.groPtr = o.gro === undefined ? 0 : this.base + o.gro;
    this.view.setUint32(CB_TRUNCATED, 0, true);
    this.view.setUint32(CB_TRAINS, 0, true);
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
    const slots = this.slotsPtr;
    if (slots !== 0) {
      if (stride !== 0 || this.bufferPtr !== 0 || this.capacity !== 0) {
        throw new RangeError(`${op}: stride, bufferPtr and capacity must be 0 with slotsPtr (the slot table says where each slot is and how big)`);
      }
      this.slotTable(op, slots, count);
    } else {
      if (stride === 0) throw new RangeError(`${op}: stride is 0`);
      if (this.capacity > stride) throw new RangeError(`${op}: capacity ${this.capacity} is over the stride ${stride}`);
      this.region(op, "bufferPtr", this.bufferPtr, stride * count);
    }
    if (shape.lengths) this.region(op, "lengthsPtr", this.lengthsPtr, 4 * count);
    const addrs = this.addrsPtr;
    if (shape.addrs === "required" || (shape.addrs === "optional" && addrs !== 0)) this.region(op, "addrsPtr", addrs, 24 * count);
    const segs = this.segsPtr;
    if (segs !== 0 && shape.segs) this.region(op, "segsPtr", segs, 4 * count);
    const locals = this.localsPtr;
    if (locals !== 0 && shape.locals) this.region(op, "localsPtr", locals, 24 * count);
    const gro = shape.gro ? this.groPtr : 0;
    if (gro !== 0) {
      this.region(op, "groPtr", gro, GRO_DATA);
      if (this.memView.byteLength < this.end - this.base) this.memView = new DataView(this.memory.buffer);
      const buffers = this.memView.getUint32(gro - this.base, true);
      const bufSize = this.memView.getUint32(gro - this.base + 4, true);
      if (buffers === 0 || buffers > GRO_MAX_BUFFERS || bufSize === 0) {
        throw new RangeError(`${op}: the GRO area at ${gro - this.base} has ${buffers} buffers of ${bufSize} bytes (initGroArea sets them)`);
      }
      this.region(op, "groPtr", gro, groAreaBytes(buffers, bufSize));
    }
  }

  /** Checks the table and every slot it names; reads it in place (no allocation). */
  private slotTable(op: string, table: number, count: number): void {
    this.region(op, "slotsPtr", table, SLOT_ENTRY_SIZE * count);
    if (this.memView.byteLength < this.end - this.base) this.memView = new DataView(this.memory.buffer);
    const view = this.memView;
    for (let i = 0, at = table - this.base; i < count; i++, at += SLOT_ENTRY_SIZE) {
      const ptr = view.getUint32(at + SLOT_ADDRESS, true) + view.getUint32(at + SLOT_ADDRESS + 4, true) * TWO32;
      const capacity = view.getUint32(at + SLOT_CAPACITY, true);
      if (capacity === 0) throw new RangeError(`${op}: slotsPtr entry ${i} has capacity 0`);
      if (ptr === 0) throw new RangeError(`${op}: slotsPtr entry ${i} has address 0`);
      if (ptr < this.base || ptr + capacity > this.end) this.region(op, `slotsPtr entry ${i}`, ptr, capacity);
    }
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
