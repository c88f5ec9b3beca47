/**
 * Carves the shared WebAssembly memory into named regions once, at start-up, on the main
 * thread; workers receive the offsets. Nothing is ever freed: the data plane's memory is
 * fixed for the life of the interface, so the steady state allocates nothing.
 */
export class MemoryLayout {
  private next: number;
  private readonly names = new Set<string>();

  /**
   * @param start first usable byte (above the AEAD module's reserved memory)
   * @param end one past the last usable byte (the memory's size)
   */
  constructor(start: number, private readonly end: number) {
    this.next = start;
  }

  /** Reserves `size` bytes aligned to `align` (a power of two) and returns the offset. */
  reserve(name: string, size: number, align = 16): number {
    if (this.names.has(name)) throw new Error(`memory region ${name} reserved twice`);
    const offset = (this.next + align - 1) & ~(align - 1);
    if (offset + size > this.end) {
      throw new RangeError(`shared memory too small: ${name} needs ${size} bytes at ${offset}, memory ends at ${this.end}`);
    }
    this.next = offset + size;
    this.names.add(name);
    return offset;
  }

  /** Bytes reserved so far, up to the end of the last region. */
  get used(): number {
    return this.next;
  }
}

/** The buffer of a shared WebAssembly memory, typed as what it is. */
export function sharedBuffer(memory: WebAssembly.Memory): SharedArrayBuffer {
  const buffer: unknown = memory.buffer;
  if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError("the data plane needs a shared WebAssembly.Memory");
  return buffer;
}
