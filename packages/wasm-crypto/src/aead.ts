// Convenience API: ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305
// (draft-irtf-cfrg-xchacha) over byte arrays. Synchronous; copies into a private instance's
// memory and back. For packets in bulk use the data-plane API (instance.ts), which works in
// place and allocates nothing. The module wipes its scratch after each call; these functions
// also zero their copy of the key, and open its copy of the plaintext, before returning (with
// the module's zeroize: TypedArray fill on a shared buffer costs ~0.5 ns a byte in V8).
import { compileOnce, type AeadExports } from "./_wasm.js";
import { HEAP_BASE, SCRATCH_BYTES } from "./memory.js";
import { TAG_BYTES } from "./descriptor.js";
import { bytes } from "./_checks.js";

const PAGE = 65536;
const MAX_PAGES = 16384; // 1 GiB
// Private layout: scratch, then key (32), nonce (24, padded to 32), then AAD and data.
const SCRATCH = HEAP_BASE;
const KEY = SCRATCH + SCRATCH_BYTES;
const NONCE = KEY + 32;
const VAR = NONCE + 32;

let memory: WebAssembly.Memory | undefined;
let raw: AeadExports;
let heap: Uint8Array;

// Lazily instantiates the private module and grows its memory to hold `need` bytes above VAR.
// The private memory may grow (it is nobody else's), so the view is refreshed after growing.
// Its maximum (1 GiB) bounds the address space it reserves, and so the largest message.
function reserve(need: number): Uint8Array {
  if (memory === undefined) {
    memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    raw = new WebAssembly.Instance(compileOnce(), { env: { memory } }).exports as unknown as AeadExports;
    raw.init(SCRATCH);
    heap = new Uint8Array(memory.buffer);
  }
  const total = VAR + need;
  if (total > MAX_PAGES * PAGE) throw new RangeError("message too large for seal/open (1 GiB); use an AeadInstance");
  if (total > heap.length) {
    memory.grow(Math.ceil((total - heap.length) / PAGE));
    heap = new Uint8Array(memory.buffer);
  }
  return heap;
}

// Places key, nonce, aad and data in the private memory; returns the data address.
function place(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, extra: number): number {
  const h = reserve(aad.length + data.length + extra + 16);
  h.set(key, KEY);
  h.set(nonce, NONCE);
  h.set(aad, VAR);
  const dataPtr = (VAR + aad.length + 15) & ~15;
  h.set(data, dataPtr);
  return dataPtr;
}

const EMPTY = new Uint8Array(0);

/** @internal For tests: the private memory's bytes (undefined before the first call). */
export function _privateHeapForTests(): Uint8Array | undefined {
  return memory === undefined ? undefined : new Uint8Array(memory.buffer);
}

function sealWith(x: boolean, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Uint8Array {
  bytes("key", key, 32);
  bytes("nonce", nonce, x ? 24 : 12);
  bytes("plaintext", plaintext);
  const a = aad === undefined ? EMPTY : bytes("aad", aad);
  const d = place(key, nonce, a, plaintext, TAG_BYTES);
  (x ? raw.xseal : raw.seal)(KEY, NONCE, d, plaintext.length, VAR, a.length);
  const sealed = heap.slice(d, d + plaintext.length + TAG_BYTES);
  raw.zeroize(KEY, 32);
  return sealed;
}

function openWith(x: boolean, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined): Uint8Array | null {
  bytes("key", key, 32);
  bytes("nonce", nonce, x ? 24 : 12);
  bytes("sealed", sealed);
  const a = aad === undefined ? EMPTY : bytes("aad", aad);
  if (sealed.length < TAG_BYTES) return null;
  const d = place(key, nonce, a, sealed, 0);
  const ok = (x ? raw.xopen : raw.open)(KEY, NONCE, d, sealed.length, VAR, a.length);
  if (ok !== 1) {
    raw.zeroize(KEY, 32); // the data is still the ciphertext
    return null;
  }
  const plain = heap.slice(d, d + sealed.length - TAG_BYTES);
  raw.zeroize(KEY, d + plain.length - KEY); // key, nonce, AAD and plaintext in one fill
  return plain;
}

/**
 * ChaCha20-Poly1305 encryption (RFC 8439 §2.8).
 *
 * @param key - 32 bytes
 * @param nonce - 12 bytes; never reuse one with the same key
 * @param plaintext - any length
 * @param aad - additional authenticated data (default empty)
 * @returns ciphertext followed by the 16-byte tag (plaintext.length + 16 bytes)
 * @throws TypeError naming the argument when a size or type is wrong
 * @example
 * ```ts
 * const sealed = seal(key, nonce, new TextEncoder().encode("hello"));
 * const plain = open(key, nonce, sealed); // Uint8Array "hello", or null if tampered
 * ```
 */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return sealWith(false, key, nonce, plaintext, aad);
}

/**
 * ChaCha20-Poly1305 decryption (RFC 8439 §2.8). The tag is verified (in constant time)
 * before any plaintext is produced.
 *
 * @param sealed - ciphertext followed by the 16-byte tag
 * @returns the plaintext, or null when the tag does not verify or `sealed` is shorter than 16
 * @throws TypeError naming the argument when a size or type is wrong
 * @example
 * ```ts
 * const plain = open(key, nonce, sealed, aad);
 * if (plain === null) throw new Error("not authentic");
 * ```
 */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
  return openWith(false, key, nonce, sealed, aad);
}

/**
 * XChaCha20-Poly1305 encryption: a 24-byte nonce, safe to pick at random
 * (HChaCha20 subkey + ChaCha20-Poly1305; WireGuard cookie replies use it).
 *
 * @example
 * ```ts
 * const nonce = crypto.getRandomValues(new Uint8Array(24));
 * const sealed = xseal(key, nonce, cookie, mac1);
 * ```
 */
export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return sealWith(true, key, nonce, plaintext, aad);
}

/**
 * XChaCha20-Poly1305 decryption with a 24-byte nonce; null when not authentic.
 *
 * @example
 * ```ts
 * const cookie = xopen(key, nonce, sealed, mac1);
 * ```
 */
export function xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
  return openWith(true, key, nonce, sealed, aad);
}
