/**
 * Allowed IPs (whitepaper §2, "cryptokey routing"): a longest-prefix-match table from
 * IPv4/IPv6 prefixes to peer slot numbers, used both ways: the destination of an outgoing
 * packet picks its peer, and the source of a decrypted packet must map back to the peer
 * it authenticated as.
 *
 * The table is a path-compressed binary trie, kept in one flat Int32Array in exactly the
 * layout the data plane reads, and edited in place: an insert or a removal walks one path,
 * O(address bits), and allocates no object. The data plane reads a copy of it, the
 * {@link AllowedIps.snapshot}: immutable, so a reader keeps using the one it holds while a
 * new one is published and updates never disturb lookups; it can live in a
 * SharedArrayBuffer and be handed to worker threads; lookups allocate nothing.
 *
 * A snapshot is made only when one is asked for after a change, and it is one memcpy of
 * the edited array: any number of changes between two reads (one UAPI request, `wg setconf`
 * with 130,000 prefixes) cost one copy. Places of removed nodes are reused; when they make
 * up more than half of the array, it is laid out again compactly.
 *
 * Layout (Int32 words): [0] IPv4 root, [1] IPv6 root (-1: empty), then nodes of NODE_WORDS
 * at word offsets: child0, child1 (offsets, -1: none), value (peer slot or -1), cidr, key
 * words k0..k3 (big-endian address bits, zero past cidr).
 * @module
 */
import { formatIpNet, type IpNet, parseIpNet } from "../protocol/address.js";

const NODE_WORDS = 8;
const HEADER_WORDS = 2;
const C0 = 0;
const VALUE = 2;
const CIDR = 3;
const KEY = 4;

function bitAt(words: ArrayLike<number>, n: number): 0 | 1 {
  return ((words[n >>> 5] >>> (31 - (n & 31))) & 1) as 0 | 1;
}

function maskWord(word: number, w: number, cidr: number): number {
  const keep = Math.max(0, Math.min(32, cidr - 32 * w));
  return keep === 0 ? 0 : word & (~0 << (32 - keep));
}

/** The address words of the prefix being inserted or removed (one at a time, on one thread). */
const keyWords = new Int32Array(4);

/** A prefix as the trie wants it: family, length and canonical text; its address is in {@link keyWords}. */
interface Prefix {
  family: 4 | 6;
  cidr: number;
  text: string;
}
const scratchPrefix: Prefix = { family: 4, cidr: 0, text: "" };

/**
 * Reads a prefix into {@link scratchPrefix} and {@link keyWords}. IPv4 text already in
 * canonical form (`a.b.c.d/n`, no leading zeros, no host bits: what the UAPI and the
 * configuration hand over) is read here without allocating; the rest goes through
 * parseIpNet (host bits cleared).
 */
function readPrefix(prefix: string | IpNet): Prefix {
  if (typeof prefix === "string" && canonicalV4(prefix)) return scratchPrefix;
  const p = typeof prefix === "string" ? parseIpNet(prefix, "mask") : prefix;
  keyWords.fill(0);
  for (let i = 0; i < p.bytes.length; i++) keyWords[i >> 2] |= p.bytes[i] << (24 - 8 * (i & 3));
  scratchPrefix.family = p.family;
  scratchPrefix.cidr = p.prefix;
  scratchPrefix.text = formatIpNet(p);
  return scratchPrefix;
}

/** Reads canonical IPv4 prefix text (see {@link readPrefix}); false for anything else. */
function canonicalV4(s: string): boolean {
  let word = 0;
  let i = 0;
  for (let part = 0; part < 5; part++) {
    const start = i;
    let n = 0;
    while (i < s.length && i - start < 4) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || (digits > 1 && s.charCodeAt(start) === 48)) return false;
    if (part < 4) {
      if (n > 255 || s.charCodeAt(i) !== (part < 3 ? 46 : 47)) return false; // "." or "/"
      word = (word << 8) | n;
      i++;
    } else {
      if (n > 32 || i !== s.length || maskWord(word, 0, n) !== word) return false;
      keyWords.fill(0);
      keyWords[0] = word;
      scratchPrefix.family = 4;
      scratchPrefix.cidr = n;
      scratchPrefix.text = s;
      return true;
    }
  }
  return false;
}

/**
 * The editable trie of both families in one growable array, in the snapshot's layout.
 * Node offsets are word offsets; -1 is no node.
 */
class FlatTrie {
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

const addr = new Int32Array(4);

function lookupWords(t: Int32Array, root: number, maxBits: number): number {
  let node = root;
  let best = -1;
  while (node >= 0) {
    const cidr = t[node + 3];
    let rem = cidr;
    for (let w = 0; rem > 0; w++, rem -= 32) {
      const mask = rem >= 32 ? -1 : ~0 << (32 - rem);
      if (((addr[w] ^ t[node + 4 + w]) & mask) !== 0) return best;
    }
    if (t[node + 2] >= 0) best = t[node + 2];
    if (cidr === maxBits) return best;
    node = t[node + bitAt(addr, cidr)];
  }
  return best;
}

/**
 * Longest-prefix match of the address of `length` (4 or 16) bytes at `bytes[offset]` in
 * `snapshot`: the peer slot number, or -1. Allocation-free.
 */
export function lookupAddress(snapshot: Int32Array, bytes: Uint8Array, offset: number, length: 4 | 16): number {
  addr.fill(0);
  for (let i = 0; i < length; i++) addr[i >> 2] |= bytes[offset + i] << (24 - 8 * (i & 3));
  return lookupWords(snapshot, snapshot[length === 4 ? 0 : 1], length * 8);
}

/**
 * The peer for the source (`which` = "source") or destination address of the IPv4/IPv6
 * packet whose header starts at `bytes[offset]`, or -1 (no match, or not an IP packet).
 */
export function lookupPacket(snapshot: Int32Array, bytes: Uint8Array, offset: number, length: number, which: "source" | "destination"): number {
  if (length < 1) return -1;
  const version = bytes[offset] >> 4;
  if (version === 4 && length >= 20) return lookupAddress(snapshot, bytes, offset + (which === "source" ? 12 : 16), 4);
  if (version === 6 && length >= 40) return lookupAddress(snapshot, bytes, offset + (which === "source" ? 8 : 24), 16);
  return -1;
}

/**
 * The editable table. Changes edit the trie at once; the immutable {@link snapshot} the
 * data plane reads is copied from it on first access after a change (so a batch of
 * changes, e.g. one UAPI request, costs one copy).
 */
export class AllowedIps {
  private readonly trie = new FlatTrie();
  /** Peer -> its prefixes (canonical text), in the order they were added. */
  private readonly byPeer = new Map<number, Set<string>>();
  private prefixes = 0;
  private current: Int32Array;
  private published = 0;
  private dirty = false;
  private held = false;

  /** `shared`: allocate snapshots in SharedArrayBuffers, so workers can read them. */
  constructor(private readonly shared = false) {
    this.current = this.compile();
  }

  /**
   * The current snapshot; valid forever, replaced (never changed) on updates. Made here if
   * the table changed, unless {@link hold} holds the last one.
   */
  get snapshot(): Int32Array {
    if (this.dirty && !this.held) this.current = this.compile();
    return this.current;
  }

  /** Incremented with every new snapshot, so the data plane knows when to pick one up. */
  get version(): number {
    if (this.dirty && !this.held) this.current = this.compile();
    return this.published;
  }

  /**
   * While held, {@link snapshot} stays the last one made, whatever changes: a change made
   * in steps (a long UAPI request in parts) reaches the data plane whole, in one snapshot,
   * once released.
   */
  hold(on: boolean): void {
    this.held = on;
  }

  /** Number of prefixes in the table. */
  get size(): number {
    return this.prefixes;
  }

  /**
   * Route `prefix` ("addr/len" text, or a parsed prefix; host bits cleared) to `peer`,
   * taking it from a previous owner.
   */
  insert(prefix: string | IpNet, peer: number): void {
    const p = readPrefix(prefix);
    const at = this.trie.find(p.family, p.cidr);
    const owner = at >= 0 ? this.trie.w[at + VALUE] : -1;
    if (owner === peer) return;
    if (owner >= 0) this.forget(owner, p.text);
    else this.prefixes++;
    let mine = this.byPeer.get(peer);
    if (!mine) this.byPeer.set(peer, (mine = new Set()));
    mine.add(p.text);
    if (at >= 0) this.trie.w[at + VALUE] = peer;
    else this.trie.set(p.family, p.cidr, peer);
    this.dirty = true;
  }

  /** Remove one prefix. */
  remove(prefix: string | IpNet): void {
    const p = readPrefix(prefix);
    const at = this.trie.find(p.family, p.cidr);
    const owner = at >= 0 ? this.trie.w[at + VALUE] : -1;
    if (owner < 0) return;
    this.forget(owner, p.text);
    this.prefixes--;
    this.trie.delete(p.family, p.cidr);
    this.dirty = true;
  }

  /** Remove every prefix of `peer`: O(its prefixes), whatever the size of the table. */
  removePeer(peer: number): void {
    const mine = this.byPeer.get(peer);
    if (!mine) return;
    this.byPeer.delete(peer);
    for (const key of mine) {
      const p = readPrefix(key);
      this.trie.delete(p.family, p.cidr);
    }
    this.prefixes -= mine.size;
    if (mine.size > 0) this.dirty = true;
  }

  /** The prefixes routed to `peer`, as text, in the order they were added. */
  prefixesOf(peer: number): string[] {
    const mine = this.byPeer.get(peer);
    return mine ? [...mine] : [];
  }

  /** How many prefixes `peer` has. */
  countOf(peer: number): number {
    return this.byPeer.get(peer)?.size ?? 0;
  }

  /** Longest-prefix match on the current snapshot (see {@link lookupPacket}). */
  lookup(bytes: Uint8Array, offset: number, length: number, which: "source" | "destination"): number {
    return lookupPacket(this.snapshot, bytes, offset, length, which);
  }

  private forget(peer: number, key: string): void {
    const mine = this.byPeer.get(peer);
    if (mine?.delete(key) && mine.size === 0) this.byPeer.delete(peer);
  }

  private compile(): Int32Array {
    const out = this.trie.copy(this.shared);
    this.published++;
    this.dirty = false;
    return out;
  }
}
