// Allowed IPs at scale: N prefixes on one peer, inserted into the engine's table and
// parsed from a `set=1` request as `wg setconf` sends it. Prints the time of each step.
// `tsx src/allowed-ips-scale.ts 130000` (default 130000; several counts may be given; SKIP_PARSE=1
// leaves out parseSet).
import { performance } from "node:perf_hooks";
import { AllowedIps, lookupAddress } from "@taltun/engine/protocol";
import { parseSet } from "@taltun/engine";
import { manyPrefixes } from "./prefixes.js";

const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;

for (const n of (process.argv.slice(2).length ? process.argv.slice(2) : ["130000"]).map(Number)) {
  const prefixes = manyPrefixes(n);
  const lines = ["public_key=" + "11".repeat(32), "replace_allowed_ips=true", ...prefixes.map((p) => `allowed_ip=${p}`)];
  let t = performance.now();
  if (process.env.SKIP_PARSE !== "1") {
    const req = parseSet(lines);
    console.log(`${n} prefixes: parseSet ${ms(t)} (${req.peers[0].allowedIps.length} parsed)`);
  }

  const table = new AllowedIps(true);
  t = performance.now();
  for (const p of prefixes) table.insert(p, 1);
  const snap = table.snapshot;
  console.log(`${n} prefixes: insert one by one + snapshot ${ms(t)} (${snap.length * 4} bytes)`);

  t = performance.now();
  for (let i = 0; i < 1000; i++) table.insert(prefixes[i], 2);
  void table.snapshot;
  console.log(`${n} prefixes: then 1000 re-inserts + snapshot ${ms(t)}`);
  t = performance.now();
  let hits = 0;
  const a = new Uint8Array(4);
  for (let i = 0; i < 1_000_000; i++) {
    a[0] = i & 255; a[1] = (i >> 8) & 255; a[2] = (i * 7) & 255; a[3] = (i * 13) & 255;
    if (lookupAddress(table.snapshot, a, 0, 4) >= 0) hits++;
  }
  console.log(`${n} prefixes: 1M IPv4 lookups ${ms(t)} (${hits} hits)`);
}
