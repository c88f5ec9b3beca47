/**
 * Test support: starts a worker thread that runs TypeScript source from this package, by
 * bundling it with esbuild first (worker threads cannot load .ts files, and tests should
 * not depend on a prior build).
 */
import { Worker } from "node:worker_threads";
import { buildSync } from "esbuild";

/**
 * Runs `body` in a worker; inside it, `mod` is the module at `entry` (a path relative to
 * this folder) and `workerData` is passed through.
 */
export function startTsWorker(entry: string, body: string, workerData: unknown): Worker {
  const bundled = buildSync({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    format: "cjs",
    platform: "node",
    write: false,
  }).outputFiles[0].text;
  const code = `const { workerData } = require("node:worker_threads");
    const module_ = { exports: {} };
    new Function("module", "exports", "require", ${JSON.stringify(bundled)})(module_, module_.exports, require);
    const mod = module_.exports;
    ${body}`;
  return new Worker(code, { eval: true, workerData });
}
