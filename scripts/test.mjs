#!/usr/bin/env node
// Runs every package's tests through turbo, one package at a time (the network tests
// share namespaces, TUN devices and the machine's two cores), then prints one closing line
// that adds up the vitest results of all packages, so CI reads a single verdict.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dirs = ["benchmarks", "e2e", ...readdirSync(join(root, "packages")).map((d) => join("packages", d))];
const results = dirs.map((d) => join(root, d, ".vitest-result.json"));
for (const f of results) rmSync(f, { force: true });

const run = spawnSync("pnpm", ["exec", "turbo", "run", "test", "--concurrency=1", "--continue", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});

let passed = 0;
let failed = 0;
let skipped = 0;
for (const f of results) {
  if (!existsSync(f)) continue;
  const r = JSON.parse(readFileSync(f, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
}
const status = run.status ?? 1;
if (status !== 0 && failed === 0) failed = 1; // a crash or build failure is a failure even if no test reported it
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || status !== 0 ? 1 : 0);
