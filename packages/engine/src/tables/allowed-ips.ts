/**
 * Allowed IPs (whitepaper §2, "cryptokey routing"): a longest-prefix-match table from
 * IPv4/IPv6 prefixes to peer slot numbers, used both ways: the destination of an outgoing
 * packet picks its peer, and the source of a decrypted packet must map back to the peer
 * it authenticated as.
 *
 * Writers edit a plain list and compile it into a new path-compressed binary trie laid out
 * flat in an Int32Array (copy-on-write): a reader keeps using the snapshot it holds while
 * a new one is published, so updates never disturb lookups. A snapshot can live in a
 * SharedArrayBuffer and be handed to worker threads; lookups allocate nothing.
 *
 * Snapshot layout (Int32 words): [0] IPv4 root, [1] IPv6 root, then nodes of NODE_WORDS:
 * child0, child1, value (peer slot or -1), cidr, key words k0..k3 (big-endian address bits).
 * @module
 */
import { formatIpNet, type IpNet, parseIpNet } from "../protocol/address.js";

const NODE_WORDS = 8;
const HEADER_WORDS = 2;

interface TrieNode {
  key: Int32Array;
  cidr: number;
  value: number;
  child: [TrieNode | null, TrieNode | null];
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

function commonBits(a: Int32Array, b: Int32Array, limit: number): number {
  for (let w = 0; w < 4; w++) {
    const x = a[w] ^ b[w];
    if (x !== 0) return Math.min(limit, w * 32 + Math.clz32(x));
  }
  return limit;
}

function masked(key: Int32Array, cidr: number): Int32Array {
  const out = new Int32Array(4);
  for (let w = 0; w < 4; w++) {
    const keep = Math.max(0, Math.min(32, cidr - 32 * w));
    out[w] = keep === 0 ? 0 : key[w] & (~0 << (32 - keep));
  }
  return out;
}

function insert(node: TrieNode | null, key: Int32Array, cidr: number, value: number): TrieNode {
  const leaf = (): TrieNode => ({ key: masked(key, cidr), cidr, value, child: [null, null] });
  if (!node) return leaf();
  const common = commonBits(node.key, key, Math.min(node.cidr, cidr));
  if (common === node.cidr && node.cidr === cidr) {
    node.value = value;
    return node;
  }
  if (common === node.cidr) {
    const b = bitAt(key, node.cidr);
    node.child[b] = insert(node.child[b], key, cidr, value);
    return node;
  }
  if (common === cidr) {
    const n = leaf();
    n.child[bitAt(node.key, cidr)] = node;
    return n;
  }
  const mid: TrieNode = { key: masked(key, common), cidr: common, value: -1, child: [null, null] };
  mid.child[bitAt(node.key, common)] = node;
  mid.child[bitAt(key, common)] = leaf();
  return mid;
}

function count(n: TrieNode | null): number {
  return n ? 1 + count(n.child[0]) + count(n.child[1]) : 0;
}

function flatten(n: TrieNode | null, out: Int32Array, next: { at: number }): number {
  if (!n) return -1;
  const at = next.at;
  next.at += NODE_WORDS;
  out[at + 2] = n.value;
  out[at + 3] = n.cidr;
  out.set(n.key, at + 4);
  out[at] = flatten(n.child[0], out, next);
  out[at + 1] = flatten(n.child[1], out, next);
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

/** The editable table; every change publishes a new immutable {@link snapshot}. */
export class AllowedIps {
  private entries = new Map<string, { prefix: IpNet; peer: number }>();
  private current: Int32Array;
  private published = 0;

  /** `shared`: allocate snapshots in SharedArrayBuffers, so workers can read them. */
  constructor(private readonly shared = false) {
    this.current = this.compile();
  }

  /** The current snapshot; valid forever, replaced (never changed) on updates. */
  get snapshot(): Int32Array {
    return this.current;
  }

  /** Incremented with every new snapshot, so the data plane knows when to pick one up. */
  get version(): number {
    return this.published;
  }

  /** Route `prefix` (text "addr/len", host bits cleared) to `peer`, replacing a previous owner. */
  insert(prefix: string, peer: number): void {
    const p = parseIpNet(prefix, "mask");
    this.entries.set(formatIpNet(p), { prefix: p, peer });
    this.current = this.compile();
  }

  /** Remove one prefix. */
  remove(prefix: string): void {
    if (this.entries.delete(formatIpNet(parseIpNet(prefix, "mask")))) this.current = this.compile();
  }

  /** Remove every prefix of `peer`. */
  removePeer(peer: number): void {
    let changed = false;
    for (const [k, e] of this.entries) if (e.peer === peer) changed = this.entries.delete(k);
    if (changed) this.current = this.compile();
  }

  /** The prefixes routed to `peer`, as text. */
  prefixesOf(peer: number): string[] {
    return [...this.entries].filter(([, e]) => e.peer === peer).map(([k]) => k);
  }

  /** Longest-prefix match on the current snapshot (see {@link lookupPacket}). */
  lookup(bytes: Uint8Array, offset: number, length: number, which: "source" | "destination"): number {
    return lookupPacket(this.current, bytes, offset, length, which);
  }

  private compile(): Int32Array {
    let v4: TrieNode | null = null;
    let v6: TrieNode | null = null;
    for (const { prefix, peer } of this.entries.values()) {
      if (prefix.family === 4) v4 = insert(v4, toWords(prefix.bytes), prefix.prefix, peer);
      else v6 = insert(v6, toWords(prefix.bytes), prefix.prefix, peer);
    }
    const words = HEADER_WORDS + NODE_WORDS * (count(v4) + count(v6));
    const out = new Int32Array(this.shared ? new SharedArrayBuffer(words * 4) : new ArrayBuffer(words * 4));
    const next = { at: HEADER_WORDS };
    out[0] = flatten(v4, out, next);
    out[1] = flatten(v6, out, next);
    this.published++;
    return out;
  }
}
