#!/usr/bin/env node
// `pnpm taltun ...`: builds what the CLI needs (a no-op when turbo's cache is warm, its
// output shown only on failure), then runs the CLI in this process with the same argv.
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const build = spawnSync("pnpm", ["exec", "turbo", "run", "build", "--filter=@taltun/cli...", "--output-logs=errors-only"], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
});
if (build.status !== 0) {
  process.stderr.write(build.stdout + build.stderr);
  console.error("taltun: the build failed (output above); run `pnpm install` and try again");
  process.exit(1);
}
await import(new URL("../packages/cli/dist/main.js", import.meta.url).href);
