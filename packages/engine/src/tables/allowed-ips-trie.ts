/**
 * The editable trie of the allowed-IPs table: a path-compressed binary trie of both
 * families in one growable Int32Array, kept in exactly the layout the data plane reads, so
 * a snapshot is one copy of it. An insert or a removal walks one path, O(address bits),
 * and allocates no object. Places of removed nodes are reused; when they make up more than
 * half of the array, it is laid out again compactly.
 *
 * Layout (Int32 words): [0] IPv4 root, [1] IPv6 root (-1: empty), then nodes of NODE_WORDS
 * at word offsets: child0, child1 (offsets, -1: none), value (peer slot or -1), cidr, key
 * words k0..k3 (big-endian address bits, zero past cidr).
 * @module
 */

const NODE_WORDS = 8;
const HEADER_WORDS = 2;
const C0 = 0;
/** The node word AllowedIps reads and sets in place when a prefix changes owner. */
export const VALUE = 2;
const CIDR = 3;
const KEY = 4;

/** Bit `n` of the address in `words` (big-endian words). */
export function bitAt(words: ArrayLike<number>, n: number): 0 | 1 {
  return ((words[n >>> 5] >>> (31 - (n & 31))) & 1) as 0 | 1;
}

/** Word `w` of an address with the bits past `cidr` cleared. */
export function maskWord(word: number, w: number, cidr: number): number {
  const keep = Math.max(0, Math.min(32, cidr - 32 * w));
  return keep === 0 ? 0 : word & (~0 << (32 - keep));
}

/** The address words of the prefix being inserted or removed (one at a time, on one thread). */
export const keyWords = new Int32Array(4);

/**
 * The editable trie of both families in one growable array, in the snapshot's layout.
 * Node offsets are word offsets; -1 is no node.
 */
export class FlatTrie {
  w = new Int32Array(HEADER_WORDS + 64 * NODE_WORDS);
  /** One past the last word in use. */
  end = HEADER_WORDS;
  /** Nodes in the trie. */
  live = 0;
  /** Offsets of removed nodes, free for new ones. */
  private holes: number[] = [];

  constructor() {
    this.w[0] = -1;
    this.w[1] = -1;
  }

  /** Offset of the node of exactly `keyWords`/`cidr` in `family`, or -1. */
  find(family: 4 | 6, cidr: number): number {
    let n = this.w[family === 4 ? 0 : 1];
    while (n >= 0) {
      const ncidr = this.w[n + CIDR];
      if (ncidr > cidr || this.common(n, ncidr) !== ncidr) return -1;
      if (ncidr === cidr) return n;
      n = this.w[n + bitAt(keyWords, ncidr)];
    }
    return -1;
  }

  /** Routes `keyWords`/`cidr` to `value`. */
  set(family: 4 | 6, cidr: number, value: number): void {
    const root = family === 4 ? 0 : 1;
    const r = this.put(this.w[root], cidr, value);
    this.w[root] = r;
  }

  /**
   * Clears `keyWords`/`cidr`. A node left without a value and with fewer than two children
   * is spliced out, so the trie stays as small as if the prefix had never been inserted.
   */
  delete(family: 4 | 6, cidr: number): void {
    const root = family === 4 ? 0 : 1;
    const r = this.drop(this.w[root], cidr);
    this.w[root] = r;
  }

  /** A copy of the words in use, in a new buffer; laid out again first if mostly holes. */
  copy(shared: boolean): Int32Array {
    if (this.holes.length * NODE_WORDS * 2 > this.end - HEADER_WORDS) this.compact();
    const out = new Int32Array(shared ? new SharedArrayBuffer(this.end * 4) : new ArrayBuffer(this.end * 4));
    out.set(this.w.subarray(0, this.end));
    return out;
  }

  /** Leading bits node `n`'s key and `keyWords` share, at most `limit`. */
  private common(n: number, limit: number): number {
    const w = this.w;
    for (let i = 0; i < 4; i++) {
      const x = w[n + KEY + i] ^ keyWords[i];
      if (x !== 0) return Math.min(limit, 32 * i + Math.clz32(x));
    }
    return limit;
  }

  private node(cidr: number, value: number): number {
    let at = this.holes.pop();
    if (at === undefined) {
      at = this.end;
      this.end += NODE_WORDS;
      if (this.end > this.w.length) {
        const bigger = new Int32Array(this.w.length * 2);
        bigger.set(this.w);
        this.w = bigger;
      }
    }
    const w = this.w;
    w[at] = -1;
    w[at + 1] = -1;
    w[at + VALUE] = value;
    w[at + CIDR] = cidr;
    for (let i = 0; i < 4; i++) w[at + KEY + i] = maskWord(keyWords[i], i, cidr);
    this.live++;
    return at;
  }

  /** The bit of node `n`'s key at position `bit`. */
  private bit(n: number, bit: number): 0 | 1 {
    return ((this.w[n + KEY + (bit >>> 5)] >>> (31 - (bit & 31))) & 1) as 0 | 1;
  }

  // `this.w` may be replaced by a bigger array whenever a node is made: read it after.
  private put(n: number, cidr: number, value: number): number {
    if (n < 0) return this.node(cidr, value);
    const ncidr = this.w[n + CIDR];
    const common = this.common(n, Math.min(ncidr, cidr));
    if (common === ncidr && ncidr === cidr) {
      this.w[n + VALUE] = value;
      return n;
    }
    if (common === ncidr) {
      const b = bitAt(keyWords, ncidr);
      const child = this.put(this.w[n + C0 + b], cidr, value);
      this.w[n + C0 + b] = child;
      return n;
    }
    if (common === cidr) {
      const m = this.node(cidr, value);
      this.w[m + C0 + this.bit(n, cidr)] = n;
      return m;
    }
    // The two part ways below both: a valueless branch node where they do.
    const leaf = this.node(cidr, value);
    const mid = this.node(common, -1);
    this.w[mid + C0 + this.bit(n, common)] = n;
    this.w[mid + C0 + bitAt(keyWords, common)] = leaf;
    return mid;
  }

  private drop(n: number, cidr: number): number {
    const w = this.w; // no node is made here
    if (n < 0) return n;
    const ncidr = w[n + CIDR];
    if (ncidr > cidr || this.common(n, ncidr) !== ncidr) return n;
    if (ncidr === cidr) {
      if (w[n + VALUE] < 0) return n;
      w[n + VALUE] = -1;
    } else {
      const b = bitAt(keyWords, ncidr);
      w[n + C0 + b] = this.drop(w[n + C0 + b], cidr);
    }
    if (w[n + VALUE] >= 0 || (w[n] >= 0 && w[n + 1] >= 0)) return n;
    this.live--;
    this.holes.push(n);
    return w[n] >= 0 ? w[n] : w[n + 1];
  }

  /** Lays the trie out again without holes, depth first. */
  private compact(): void {
    const from = this.w;
    const to = new Int32Array(Math.max(HEADER_WORDS + this.live * NODE_WORDS, 64 * NODE_WORDS));
    let end = HEADER_WORDS;
    for (const root of [0, 1]) {
      if (from[root] < 0) {
        to[root] = -1;
        continue;
      }
      // (old offset, word in `to` that points at it)
      const stack = [from[root], root];
      while (stack.length > 0) {
        const parentWord = stack.pop()!;
        const old = stack.pop()!;
        const at = end;
        end += NODE_WORDS;
        to[parentWord] = at;
        to.set(from.subarray(old, old + NODE_WORDS), at);
        for (const c of [1, 0]) {
          if (from[old + c] >= 0) stack.push(from[old + c], at + c);
        }
      }
    }
    this.w = to;
    this.end = end;
    this.holes = [];
  }
}
