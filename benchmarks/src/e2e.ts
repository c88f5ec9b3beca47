/**
 * End-to-end benchmark (issue 11): every pairing side by side in one invocation, in
 * alternating rounds (round 1 measures every case, then round 2, ...; each round starts
 * one case further along the list, so no case always runs first or last). For each case:
 * iperf3 TCP with 1 and 4 streams, iperf3 UDP goodput and loss (1400-byte payloads offered
 * at line rate), ping RTT idle and under the 1-stream TCP load, CPU seconds per GB for the
 * whole machine (/proc/stat) and for the VPN processes (/proc/<pid>/stat). Medians across
 * rounds; ratios to upstream wireguard-go on both sides. Writes a table to stdout and
 * <out>/e2e-<date>-<cpu>-<cores>c-<kernel>.{json,svg,txt}.
 *
 *   pnpm bench:e2e [--rounds N] [--seconds S] [--smoke] [--out DIR] [--cases id,id] [--mtu M]
 *
 *   --rounds     rounds (default 3; env TALTUN_BENCH_ROUNDS)
 *   --seconds    seconds per iperf3 run (default 5; env TALTUN_BENCH_SECONDS)
 *   --smoke      one round of 2-second runs, files into a temporary folder unless --out
 *   --out        folder for the files (default benchmarks/results)
 *   --cases      only these case ids (see e2e-cases.ts)
 *   --mtu        tunnel MTU of every VPN (default 1440: the 1500-byte veth minus WireGuard's
 *                60 bytes over IPv4, so 1400-byte UDP payloads travel unfragmented)
 *
 * Upstream wireguard-go: the binary at $TALTUN_BENCH_WG_UPSTREAM, else the shared build
 * script's output /opt/anchors/wireguard-go-upstream. Without it, the cases that need it
 * are skipped with a note, except under CI=true, where its absence is an error.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Lab, requireLabPreconditions } from "@taltun/e2e/lab";
import { CASES, type Case, REFERENCE } from "./e2e-cases.js";
import { measureCase, type Sample, TCP_RATE_CAP, UDP_PAYLOAD, UDP_RATE } from "./e2e-measure.js";
import { type CaseSummary, medians, ratios, renderSvg, renderTable } from "./e2e-report.js";
import { machine, resultStem } from "./machine.js";

export const DEFAULT_UPSTREAM = "/opt/anchors/wireguard-go-upstream";
const RESULTS = new URL("../results", import.meta.url).pathname;

const inCi = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? "");

function version(bin: string): string {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 5000 }).split("\n")[0].trim();
  } catch {
    return "unknown";
  }
}

function debianWireguardGo(): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", "wireguard-go"], { encoding: "utf8", timeout: 5000 }).trim();
  } catch {
    return "unknown";
  }
}

function usage(msg?: string): never {
  if (msg) console.error(`bench:e2e: ${msg}`);
  console.error("usage: pnpm bench:e2e [--rounds N] [--seconds S] [--smoke] [--out DIR] [--cases id,id] [--mtu M]");
  console.error(`cases: ${CASES.map((c) => c.id).join(", ")}`);
  process.exit(2);
}

function positive(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${name} must be a positive integer, not ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        rounds: { type: "string" },
        seconds: { type: "string" },
        smoke: { type: "boolean", default: false },
        out: { type: "string" },
        cases: { type: "string" },
        mtu: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  if (parsed.help) usage();
  const smoke = parsed.smoke!;
  const rounds = positive("--rounds", parsed.rounds ?? process.env.TALTUN_BENCH_ROUNDS, smoke ? 1 : 3);
  const seconds = positive("--seconds", parsed.seconds ?? process.env.TALTUN_BENCH_SECONDS, smoke ? 2 : 5);
  const mtu = positive("--mtu", parsed.mtu, 1440);
  if (mtu < 1280 || mtu > 1440) usage("--mtu must be within 1280..1440 (a 1500-byte veth underneath)");
  if (rounds * seconds > 600) usage("rounds x seconds above 600: keep runs bounded");
  const wanted = parsed.cases?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of wanted ?? []) if (!CASES.some((c) => c.id === id)) usage(`unknown case ${id}`);
  const outDir = parsed.out ?? (smoke ? mkdtempSync(join(tmpdir(), "taltun-bench-e2e-")) : RESULTS);

  requireLabPreconditions();

  const upstream = process.env.TALTUN_BENCH_WG_UPSTREAM || DEFAULT_UPSTREAM;
  let upstreamMissing: string | undefined;
  try {
    accessSync(upstream, constants.X_OK);
  } catch {
    upstreamMissing = `no upstream wireguard-go at ${upstream}`;
  }
  const selected = CASES.filter((c) => !wanted || wanted.includes(c.id));
  if (upstreamMissing && selected.some((c) => c.upstream)) {
    const how = "build it with `bash ../shared/anchors/build-wireguard-go-upstream.sh` (from the repository root; .ci/run does this in CI), or point TALTUN_BENCH_WG_UPSTREAM at a binary";
    if (inCi()) {
      console.error(`bench:e2e: ERROR: ${upstreamMissing} (CI=true: the upstream cases must run). ${how}`);
      return 1;
    }
    console.log(`note: ${upstreamMissing}: skipping the upstream wireguard-go cases; ${how}.`);
  }
  const runnable = selected.filter((c) => !(c.upstream && upstreamMissing));
  const m = machine();
  const loadAtStart = loadavg();
  const started = new Date();
  const options = { upstream, mtu };

  // Ctrl-C / SIGTERM: close the lab being measured (its processes by PID, its namespaces), then
  // exit. The signal often comes twice (to the process group, and relayed by tsx's parent
  // process): the handler stays installed and ignores the repeats, so cleanup runs to the end.
  let active: Lab | null = null;
  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`\nbench:e2e: ${sig}, cleaning up`);
    const lab = active;
    void (lab ? lab.close() : Promise.resolve()).finally(() => process.exit(128 + (sig === "SIGINT" ? 2 : 15)));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  const samples: Sample[] = [];
  const errors = new Map<string, string[]>();
  for (let round = 0; round < rounds; round++) {
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
    for (const c of order) {
      const t0 = Date.now();
      process.stderr.write(`round ${round + 1}/${rounds}: ${c.name} ... `);
      try {
        samples.push(await measureCase(c, options, seconds, round + 1, (lab) => (active = lab)));
        const s = samples.at(-1)!;
        process.stderr.write(`TCP-1 ${s.tcp1.gbps.toFixed(2)}, TCP-4 ${s.tcp4.gbps.toFixed(2)}, UDP ${s.udp.gbps.toFixed(2)} Gbit/s (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
      } catch (e) {
        const msg = (e as Error).message;
        process.stderr.write(`FAILED: ${msg}\n`);
        errors.set(c.id, [...(errors.get(c.id) ?? []), `round ${round + 1}: ${msg}`]);
      }
    }
  }

  const summary = (c: Case): CaseSummary => {
    const own = samples.filter((s) => s.case === c.id);
    return {
      id: c.id,
      name: c.name,
      skipped: c.upstream && upstreamMissing ? upstreamMissing : undefined,
      rounds: own.length,
      errors: errors.get(c.id) ?? [],
      median: medians(own),
      ratios: null,
    };
  };
  const cases = selected.map(summary);
  const ref = cases.find((c) => c.id === REFERENCE)?.median ?? null;
  for (const c of cases) c.ratios = ratios(c.median, ref);

  const settings =
    `${rounds} round${rounds > 1 ? "s" : ""} x ${seconds} s per load, medians; tunnel MTU ${mtu}; ` +
    `UDP ${UDP_PAYLOAD}-byte payloads offered at ${UDP_RATE}bit/s; RTT: ping every 0.2 s, median`;
  const header = [
    `# bench:e2e ${started.toISOString()} on ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, node ${m.node}, 1-min load average ${loadAtStart[0].toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (2 cores: other work on the machine shows)`,
    `# ${settings}`,
    `# CPU-s/GB from the TCP 1-stream run: "machine" = all cores' busy time (/proc/stat; includes anything else running), "VPN" = the two VPN processes' own time`,
    `# x up = this case / upstream wireguard-go <-> upstream (throughput: higher is better; CPU-s/GB: lower is better)`,
    `# upstream wireguard-go: ${upstreamMissing ? "absent" : `${upstream} (${version(upstream)})`}; Debian wireguard-go ${debianWireguardGo()}`,
  ];
  const table = renderTable(cases);
  const failures = cases.filter((c) => !c.median && !c.skipped);
  // The spread behind each median: every round's TCP figures, with the load average the case started at.
  const width = Math.max(...cases.map((c) => c.name.length));
  const byRound = rounds > 1
    ? ["", "TCP-1 / TCP-4 Gbit/s in each round (1-min load average when the case started):",
       ...cases.filter((c) => c.median).map((c) => `  ${c.name.padEnd(width)}  ${samples.filter((s) => s.case === c.id)
         .map((s) => `${s.tcp1.gbps.toFixed(2)} / ${s.tcp4.gbps.toFixed(2)} (${s.loadavg[0].toFixed(1)})`).join("   ")}`)]
    : [];
  const text = [...header, "", table, ...byRound, ...cases.flatMap((c) => c.errors.map((e) => `error: ${c.id} ${e.split("\n")[0]}`)), ""].join("\n");
  console.log(`\n${text}`);

  mkdirSync(outDir, { recursive: true });
  const stem = join(outDir, resultStem("e2e", m, started));
  const json = {
    benchmark: "taltun bench:e2e",
    started: started.toISOString(),
    finished: new Date().toISOString(),
    machine: m,
    settings: {
      rounds, seconds, mtu, smoke, udpPayloadBytes: UDP_PAYLOAD, udpOfferedRate: UDP_RATE, tcpRateCapPerStream: TCP_RATE_CAP,
      upstreamWireguardGo: upstreamMissing ? null : { path: upstream, version: version(upstream) },
      debianWireguardGo: debianWireguardGo(),
      reference: REFERENCE,
    },
    cases,
    samples,
    table,
  };
  writeFileSync(`${stem}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${stem}.txt`, text);
  writeFileSync(`${stem}.svg`, renderSvg(cases, `Taltun end to end: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, ${started.toISOString().slice(0, 10)}`, settings));
  console.log(`wrote ${stem}.json, .svg, .txt`);
  if (failures.length) console.error(`bench:e2e: no figures for ${failures.map((c) => c.id).join(", ")}`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
