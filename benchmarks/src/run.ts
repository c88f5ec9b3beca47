// `pnpm bench`: every micro-benchmark suite in this folder, in order, each printing its table,
// with short defaults (about two minutes in all; --smoke: a few seconds per suite).
//
//   pnpm bench [suite ...] [--smoke] [--json FILE]
//
//   suites: aead (ChaCha20-Poly1305: wasm-crypto, node:crypto, noble, OpenSSL full and
//           128-bit SIMD; heap per packet), handshake (handshakes/s, transport path cost),
//           allowed-ips (lookups/s), udp (FFI batch: io-shim vs plain C, calls per datagram),
//           datapath (FFI calls, AEAD batches and heap bytes per packet under iperf3 load;
//           network namespaces, root)
//   --json: also write every suite's headline figures (or its error) to FILE.
//
// A suite that fails is reported and the others still run; the exit code is 1 if any failed.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runAeadBench } from "./aead.js";
import { runAllowedIpsBench } from "./allowed-ips.js";
import { runDatapathBench } from "./datapath.js";
import { runHandshakeBench } from "./handshake.js";
import { machine } from "./machine.js";
import { type EchoResult, rate, runUdpEcho } from "./udp-echo.js";

type Figures = Record<string, number>;

async function udp(smoke: boolean): Promise<Figures> {
  const rows = await runUdpEcho(smoke ? { seconds: 0.2, rounds: 1, maxDatagrams: 1_000_000 } : { seconds: 0.5, rounds: 3 });
  const find = (impl: (r: EchoResult) => boolean, batch: number): EchoResult => {
    const r = rows.find((x) => impl(x) && x.batch === batch);
    if (!r) throw new Error(`udp-echo: no result for batch ${batch}`);
    return r;
  };
  const shim = find((r) => r.impl !== "plain C", 64);
  const c = find((r) => r.impl === "plain C", 64);
  return {
    "io-shim datagrams/s, batch 64": rate(shim),
    "plain C datagrams/s, batch 64": rate(c),
    "io-shim / C, batch 64": rate(shim) / rate(c),
    "FFI calls per datagram, batch 64": shim.calls / shim.datagrams,
    "io-shim datagrams/s, batch 1": rate(find((r) => r.impl !== "plain C", 1)),
  };
}

const SUITES: Record<string, (smoke: boolean) => Promise<Figures>> = {
  aead: (smoke) => runAeadBench({ smoke }),
  handshake: (smoke) => runHandshakeBench({ smoke }),
  "allowed-ips": (smoke) => runAllowedIpsBench({ smoke }),
  udp,
  datapath: (smoke) => runDatapathBench({ seconds: smoke ? 1 : 3 }),
};

const { values, positionals } = parseArgs({
  options: { smoke: { type: "boolean", default: false }, json: { type: "string" } },
  allowPositionals: true,
});
for (const name of positionals) {
  if (!(name in SUITES)) {
    console.error(`bench: unknown suite ${name}; suites: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
}

const results: Record<string, { figures?: Figures; error?: string; seconds: number }> = {};
const t0 = Date.now();
for (const [name, run] of Object.entries(SUITES)) {
  if (positionals.length > 0 && !positionals.includes(name)) continue;
  const t = Date.now();
  try {
    results[name] = { figures: await run(values.smoke!), seconds: (Date.now() - t) / 1000 };
  } catch (e) {
    const msg = (e as Error).stack ?? String(e);
    console.error(`\nbench: suite ${name} FAILED: ${msg}`);
    results[name] = { error: msg, seconds: (Date.now() - t) / 1000 };
  }
}
const failed = Object.entries(results).filter(([, r]) => r.error);
console.log(
  `\nbench: ${Object.keys(results).length} suites in ${((Date.now() - t0) / 1000).toFixed(0)} s` +
    `${values.smoke ? " (smoke)" : ""}${failed.length ? `, FAILED: ${failed.map(([n]) => n).join(", ")}` : ""}`,
);
if (values.json) {
  writeFileSync(values.json, `${JSON.stringify({ benchmark: "taltun bench", date: new Date().toISOString(), machine: machine(), smoke: values.smoke, suites: results }, null, 2)}\n`);
}
process.exitCode = failed.length ? 1 : 0;
