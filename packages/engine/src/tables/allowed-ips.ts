/**
 * Allowed IPs (whitepaper §2, "cryptokey routing"): a longest-prefix-match table from
 * IPv4/IPv6 prefixes to peer slot numbers, used both ways: the destination of an outgoing
 * packet picks its peer, and the source of a decrypted packet must map back to the peer
 * it authenticated as.
 *
 * The table is a path-compressed binary trie (allowed-ips-trie.ts), kept in one flat
 * Int32Array in exactly the layout the data plane reads, and edited in place. The data
 * plane reads a copy of it, the {@link AllowedIps.snapshot}: immutable, so a reader keeps
 * using the one it holds while a new one is published and updates never disturb lookups;
 * it can live in a SharedArrayBuffer and be handed to worker threads; lookups
 * (allowed-ips-lookup.ts) allocate nothing.
 *
 * A snapshot is made only when one is asked for after a change, and it is one memcpy of
 * the edited array: any number of changes between two reads (one UAPI request, `wg setconf`
 * with 130,000 prefixes) cost one copy.
 * @module
 */
import type { IpNet } from "../protocol/address.js";
import { lookupPacket } from "./allowed-ips-lookup.js";
import { readPrefix } from "./allowed-ips-prefix.js";
import { FlatTrie, VALUE } from "./allowed-ips-trie.js";

export { lookupAddress, lookupPacket } from "./allowed-ips-lookup.js";

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
