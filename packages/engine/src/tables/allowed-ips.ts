/**
 * Allowed IPs (whitepaper §2, "cryptokey routing"): a longest-prefix-match table from
 * IPv4/IPv6 prefixes to peer slot numbers, used both ways: the destination of an outgoing
 * packet picks its peer, and the source of a decrypted packet must map back to the peer
 * it authenticated as.
 *
 * Writers edit a path-compressed binary trie in place (an insert or a removal walks one
 * path, O(address bits)), and the table compiles it into a flat Int32Array, copy-on-write,
 * only when the {@link AllowedIps.snapshot} is asked for after a change: any number of
 * changes in between cost one compile, so `wg setconf` with 130,000 prefixes compiles once,
 * not 130,000 times. A reader keeps using the snapshot it holds while a new one is
 * published, so updates never disturb lookups. A snapshot can live in a SharedArrayBuffer
 * and be handed to worker threads; lookups allocate nothing.
 *
 * Snapshot layout (Int32 words): [0] IPv4 root, [1] IPv6 root, then nodes of NODE_WORDS:
 * child0, child1, value (peer slot or -1), cidr, key words k0..k3 (big-endian address bits).
 * @module
 */
import { formatIpNet, type IpNet, parseIpNet } from "../protocol/address.js";

const NODE_WORDS = 8;
const HEADER_WORDS = 2;

/** A node of the editable trie: a prefix (key bits past `cidr` are zero), its peer or -1, two children. */
interface TrieNode {
  k0: number;
  k1: number;
  k2: number;
  k3: number;
  cidr: number;
  value: number;
  c0: TrieNode | null;
  c1: TrieNode | null;
}

/** Address bits of `bytes` as four big-endian words. */
function toWords(bytes: Uint8Array): Int32Array {
  const w = new Int32Array(4);
  for (let i = 0; i < bytes.length; i++) w[i >> 2] |= bytes[i] << (24 - 8 * (i & 3));
  return w;
}

function bitAt(words: ArrayLike<number>, n: number): 0 | 1 {
  return ((words[n >>> 5] >>> (31 - (n & 31))) & 1) as 0 | 1;
}

function nodeBit(n: TrieNode, bit: number): 0 | 1 {
  const w = bit >>> 5;
  const word = w === 0 ? n.k0 : w === 1 ? n.k1 : w === 2 ? n.k2 : n.k3;
  return ((word >>> (31 - (bit & 31))) & 1) as 0 | 1;
}

/** Leading bits `n`'s key and `key` have in common, at most `limit`. */
function commonBits(n: TrieNode, key: Int32Array, limit: number): number {
  let x = n.k0 ^ key[0];
  if (x !== 0) return Math.min(limit, Math.clz32(x));
  if ((x = n.k1 ^ key[1]) !== 0) return Math.min(limit, 32 + Math.clz32(x));
  if ((x = n.k2 ^ key[2]) !== 0) return Math.min(limit, 64 + Math.clz32(x));
  if ((x = n.k3 ^ key[3]) !== 0) return Math.min(limit, 96 + Math.clz32(x));
  return limit;
}

function maskWord(word: number, w: number, cidr: number): number {
  const keep = Math.max(0, Math.min(32, cidr - 32 * w));
  return keep === 0 ? 0 : word & (~0 << (32 - keep));
}

function newNode(key: Int32Array, cidr: number, value: number): TrieNode {
  return { k0: maskWord(key[0], 0, cidr), k1: maskWord(key[1], 1, cidr), k2: maskWord(key[2], 2, cidr), k3: maskWord(key[3], 3, cidr), cidr, value, c0: null, c1: null };
}

function setChild(n: TrieNode, bit: 0 | 1, child: TrieNode | null): void {
  if (bit === 0) n.c0 = child;
  else n.c1 = child;
}

/** The editable trie of one family; `nodes` counts its nodes, so a compile knows its size up front. */
class Trie {
  root: TrieNode | null = null;
  nodes = 0;

  /** Sets the value of prefix `key`/`cidr`; returns the previous value (-1 if none). */
  set(key: Int32Array, cidr: number, value: number): number {
    let previous = -1;
    const put = (node: TrieNode | null): TrieNode => {
      if (!node) {
        this.nodes++;
        return newNode(key, cidr, value);
      }
      const common = commonBits(node, key, Math.min(node.cidr, cidr));
      if (common === node.cidr && node.cidr === cidr) {
        previous = node.value;
        node.value = value;
        return node;
      }
      if (common === node.cidr) {
        const b = bitAt(key, node.cidr);
        setChild(node, b, put(b === 0 ? node.c0 : node.c1));
        return node;
      }
      this.nodes++;
      if (common === cidr) {
        const n = newNode(key, cidr, value);
        setChild(n, nodeBit(node, cidr), node);
        return n;
      }
      // The two part ways below both: a valueless branch node where they do.
      this.nodes++;
      const mid = newNode(key, common, -1);
      setChild(mid, nodeBit(node, common), node);
      setChild(mid, bitAt(key, common), newNode(key, cidr, value));
      return mid;
    };
    this.root = put(this.root);
    return previous;
  }

  /**
   * Clears prefix `key`/`cidr`; returns its value (-1 if it was not there). A node left
   * without a value and with fewer than two children is spliced out, so the trie stays
   * as small as if the prefix had never been inserted.
   */
  delete(key: Int32Array, cidr: number): number {
    let previous = -1;
    const drop = (node: TrieNode | null): TrieNode | null => {
      if (!node || node.cidr > cidr || commonBits(node, key, node.cidr) !== node.cidr) return node;
      if (node.cidr === cidr) {
        previous = node.value;
        node.value = -1;
      } else {
        const b = bitAt(key, node.cidr);
        setChild(node, b, drop(b === 0 ? node.c0 : node.c1));
      }
      if (node.value >= 0 || (node.c0 && node.c1)) return node;
      this.nodes--;
      return node.c0 ?? node.c1;
    };
    this.root = drop(this.root);
    return previous;
  }
}

function flatten(n: TrieNode | null, out: Int32Array, next: { at: number }): number {
  if (!n) return -1;
  const at = next.at;
  next.at += NODE_WORDS;
  out[at + 2] = n.value;
  out[at + 3] = n.cidr;
  out[at + 4] = n.k0;
  out[at + 5] = n.k1;
  out[at + 6] = n.k2;
  out[at + 7] = n.k3;
  out[at] = flatten(n.c0, out, next);
  out[at + 1] = flatten(n.c1, out, next);
  return at;
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
 * data plane reads is compiled on first access after a change (so a batch of changes,
 * e.g. one UAPI request, costs one compile).
 */
export class AllowedIps {
  private readonly v4 = new Trie();
  private readonly v6 = new Trie();
  /** Canonical prefix text -> peer. */
  private readonly owners = new Map<string, number>();
  /** Peer -> its prefixes (canonical text), in the order they were added. */
  private readonly byPeer = new Map<number, Set<string>>();
  private current: Int32Array;
  private published = 0;
  private dirty = false;

  /** `shared`: allocate snapshots in SharedArrayBuffers, so workers can read them. */
  constructor(private readonly shared = false) {
    this.current = this.compile();
  }

  /** The current snapshot; valid forever, replaced (never changed) on updates. Compiled here if the table changed. */
  get snapshot(): Int32Array {
    if (this.dirty) this.current = this.compile();
    return this.current;
  }

  /** Incremented with every new snapshot, so the data plane knows when to pick one up. */
  get version(): number {
    if (this.dirty) this.current = this.compile();
    return this.published;
  }

  /** Number of prefixes in the table. */
  get size(): number {
    return this.owners.size;
  }

  /**
   * Route `prefix` ("addr/len" text, or a parsed prefix; host bits cleared) to `peer`,
   * taking it from a previous owner.
   */
  insert(prefix: string | IpNet, peer: number): void {
    const p = typeof prefix === "string" ? parseIpNet(prefix, "mask") : prefix;
    const key = formatIpNet(p);
    const owner = this.owners.get(key);
    if (owner === peer) return;
    if (owner !== undefined) this.forget(owner, key);
    this.owners.set(key, peer);
    this.prefixSet(peer, true)!.add(key);
    (p.family === 4 ? this.v4 : this.v6).set(toWords(p.bytes), p.prefix, peer);
    this.dirty = true;
  }

  /** Remove one prefix. */
  remove(prefix: string | IpNet): void {
    const p = typeof prefix === "string" ? parseIpNet(prefix, "mask") : prefix;
    const key = formatIpNet(p);
    const owner = this.owners.get(key);
    if (owner === undefined) return;
    this.owners.delete(key);
    this.forget(owner, key);
    (p.family === 4 ? this.v4 : this.v6).delete(toWords(p.bytes), p.prefix);
    this.dirty = true;
  }

  /** Remove every prefix of `peer`: O(its prefixes), whatever the size of the table. */
  removePeer(peer: number): void {
    const mine = this.byPeer.get(peer);
    if (!mine) return;
    this.byPeer.delete(peer);
    for (const key of mine) {
      this.owners.delete(key);
      const p = parseIpNet(key, "keep");
      (p.family === 4 ? this.v4 : this.v6).delete(toWords(p.bytes), p.prefix);
    }
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

  private prefixSet(peer: number, create: boolean): Set<string> | undefined {
    let set = this.byPeer.get(peer);
    if (!set && create) this.byPeer.set(peer, (set = new Set()));
    return set;
  }

  private compile(): Int32Array {
    const words = HEADER_WORDS + NODE_WORDS * (this.v4.nodes + this.v6.nodes);
    const out = new Int32Array(this.shared ? new SharedArrayBuffer(words * 4) : new ArrayBuffer(words * 4));
    const next = { at: HEADER_WORDS };
    out[0] = flatten(this.v4.root, out, next);
    out[1] = flatten(this.v6.root, out, next);
    this.published++;
    this.dirty = false;
    return out;
  }
}
