// Deterministic sets of distinct prefixes for the allowed-IPs benchmarks and scale tests.

/** `n` distinct prefixes, deterministic: IPv4 /8-/32 and, one in eight, IPv6 /16-/128. */
export function manyPrefixes(n: number, seed = 1): string[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out = new Set<string>();
  while (out.size < n) {
    if (rnd() < 0.875) {
      const len = 8 + Math.floor(rnd() * 25);
      const a = Math.floor(rnd() * 2 ** 32) >>> 0;
      const m = len === 0 ? 0 : (a & (~0 << (32 - len))) >>> 0;
      out.add(`${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${len}`);
    } else {
      const len = 16 + Math.floor(rnd() * 113);
      const words = Array.from({ length: 8 }, () => Math.floor(rnd() * 65536));
      for (let w = 0; w < 8; w++) {
        const keep = Math.max(0, Math.min(16, len - 16 * w));
        words[w] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
      }
      out.add(`${words.map((w) => w.toString(16)).join(":")}/${len}`);
    }
  }
  return [...out];
}
