/**
 * Prefixes as the allowed-IPs trie takes them: text or parsed, read into the trie's key
 * words. The canonical IPv4 text the UAPI and the configuration hand over is read without
 * allocating, since `wg setconf` may bring 130,000 of them.
 * @module
 */
import { formatIpNet, type IpNet, parseIpNet } from "../protocol/address.js";
import { keyWords, maskWord } from "./allowed-ips-trie.js";

/** A prefix as the trie wants it: family, length and canonical text; its address is in {@link keyWords}. */
export interface Prefix {
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
export function readPrefix(prefix: string | IpNet): Prefix {
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
