/**
 * CI smoke of both benchmark harnesses: `bench:e2e --smoke` (one round, 2-second loads, every
 * case) and `bench --smoke` (every micro-benchmark suite, briefly), each as a child process
 * with a time limit. A case or suite that cannot run fails the test; a speed figure never
 * does. Both print their tables here, so every CI log carries the figures.
 *
 * Upstream wireguard-go ($TALTUN_BENCH_WG_UPSTREAM, else /opt/anchors/wireguard-go-upstream):
 * under CI=true its cases must run (.ci/run builds it with ../shared/anchors/
 * build-wireguard-go-upstream.sh); elsewhere they are skipped with a note when it is absent.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const HERE = new URL("..", import.meta.url).pathname;
const E2E_LIMIT_S = 150;
const MICRO_LIMIT_S = 100;
const inCi = /^(1|true|yes)$/i.test(process.env.CI ?? "");
const upstream = process.env.TALTUN_BENCH_WG_UPSTREAM || "/opt/anchors/wireguard-go-upstream";
const hasUpstream = (() => {
  try {
    accessSync(upstream, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * `pnpm run <script> <args>` in this package, in its own process group: past `limitS`, the
 * group gets SIGTERM (the harnesses then remove their namespaces and end their processes),
 * and SIGKILL 15 s later if anything is left.
 */
function pnpmRun(args: string[], limitS: number): Promise<Run> {
  const t0 = Date.now();
  const child = spawn("pnpm", ["run", "--silent", ...args], { cwd: HERE, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // the group is gone already
    }
  };
  let kill: NodeJS.Timeout | undefined;
  const term = setTimeout(() => {
    stderr += `\n[smoke] ${args[0]} outlasted ${limitS} s: SIGTERM\n`;
    signal("SIGTERM");
    kill = setTimeout(() => signal("SIGKILL"), 15_000);
  }, limitS * 1000);
  return new Promise((resolve) => {
    child.on("close", (code, sig) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code: code ?? sig ?? -1, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

const finite = (x: unknown): boolean => typeof x === "number" && Number.isFinite(x);

describe("benchmark smoke", () => {
  const out = mkdtempSync(join(tmpdir(), "taltun-bench-smoke-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it(`bench:e2e --smoke: every case gives figures (within ${E2E_LIMIT_S} s)`, async () => {
    if (!hasUpstream) {
      console.log(
        inCi
          ? `[smoke] CI=true and no upstream wireguard-go at ${upstream}: .ci/run should have built it with ../shared/anchors/build-wireguard-go-upstream.sh; the e2e smoke must fail`
          : `[smoke] note: no upstream wireguard-go at ${upstream}: its three cases are skipped (build it: bash ../shared/anchors/build-wireguard-go-upstream.sh)`,
      );
    }
    const r = await pnpmRun(["bench:e2e", "--smoke", "--out", out], E2E_LIMIT_S);
    console.log(`${r.stdout}\n[smoke] bench:e2e --smoke took ${r.seconds.toFixed(0)} s\n${r.stderr}`);
    expect(r.code, `bench:e2e --smoke failed:\n${r.stderr.slice(-4000)}`).toBe(0);

    const files = readdirSync(out);
    const json = files.find((f) => /^e2e-\d{4}-\d\d-\d\d-.+-\d+c-.+\.json$/.test(f));
    expect(json, `no result JSON in ${files.join(", ")}`).toBeDefined();
    for (const ext of [".svg", ".txt"]) expect(existsSync(join(out, json!.replace(/\.json$/, ext)))).toBe(true);
    expect(readFileSync(join(out, json!.replace(/\.json$/, ".svg")), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/);

    const result = JSON.parse(readFileSync(join(out, json!), "utf8"));
    const ids = result.cases.map((c: { id: string }) => c.id);
    expect(ids).toEqual(["veth", "taltun", "wg-debian", "wg-upstream", "taltun-to-upstream", "upstream-to-taltun"]);
    for (const c of result.cases) {
      if (c.skipped) {
        expect(inCi, `${c.id} skipped under CI: ${c.skipped}`).toBe(false);
        continue;
      }
      expect(c.errors, `${c.id}`).toEqual([]);
      expect(c.median, `${c.id} has no figures`).not.toBeNull();
      for (const [k, v] of Object.entries(c.median)) {
        if (v === null) expect(c.id === "veth" && /Vpn/.test(k), `${c.id}.${k} is null`).toBe(true);
        else expect(finite(v), `${c.id}.${k} = ${v}`).toBe(true);
      }
      expect(c.median.tcp1Gbps).toBeGreaterThan(0);
      expect(c.median.tcp4Gbps).toBeGreaterThan(0);
      expect(c.median.udpGbps).toBeGreaterThan(0);
    }
    const ran = result.cases.filter((c: { skipped?: string }) => !c.skipped).length;
    expect(ran).toBe(hasUpstream || inCi ? 6 : 3);
  }, (E2E_LIMIT_S + 20) * 1000);

  it(`bench --smoke: every suite gives figures (within ${MICRO_LIMIT_S} s)`, async () => {
    const file = join(out, "micro.json");
    const r = await pnpmRun(["bench", "--smoke", "--json", file], MICRO_LIMIT_S);
    console.log(`${r.stdout}\n[smoke] bench --smoke took ${r.seconds.toFixed(0)} s\n${r.stderr}`);
    expect(r.code, `bench --smoke failed:\n${r.stderr.slice(-4000)}`).toBe(0);
    const result = JSON.parse(readFileSync(file, "utf8"));
    expect(Object.keys(result.suites)).toEqual(["aead", "handshake", "allowed-ips", "udp", "datapath"]);
    for (const [name, s] of Object.entries(result.suites) as [string, { figures?: Record<string, number>; error?: string }][]) {
      expect(s.error, `${name}: ${s.error}`).toBeUndefined();
      expect(Object.keys(s.figures ?? {}).length, `${name} has no figures`).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(s.figures!)) expect(finite(v), `${name}: ${k} = ${v}`).toBe(true);
    }
  }, (MICRO_LIMIT_S + 20) * 1000);
});
