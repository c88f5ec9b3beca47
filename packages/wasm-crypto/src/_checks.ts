// Argument checks shared by the public API. Each throws a TypeError that names the argument,
// because a bad pointer or a wrong-sized key is a programming error, not a bad packet.

/** Throws unless `value` is a Uint8Array of exactly `size` bytes (any size when undefined). */
export function bytes(name: string, value: unknown, size?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (size !== undefined && value.length !== size) {
    throw new TypeError(`${name} must be ${size} bytes, got ${value.length}`);
  }
  return value;
}

/** Throws unless `value` is an integer in [min, max]. */
export function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Throws unless [ptr, ptr+len) lies in [lo, hi). */
export function range(name: string, ptr: number, len: number, lo: number, hi: number): void {
  if (ptr < lo || ptr + len > hi) {
    throw new TypeError(`${name} range [${ptr}, ${ptr + len}) is outside usable memory [${lo}, ${hi})`);
  }
}
