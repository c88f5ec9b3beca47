#!/usr/bin/env node
// `pnpm pack:all [--out DIR]`: builds the four @taltun/* packages, packs each with `pnpm pack`
// (which turns their `workspace:` ranges into the versions of the packages they point to),
// checks every tarball, and prints what is in it. The tarballs land in DIR (default packs/),
// with packs.json beside them describing each one; they install with plain `npm install`.
// Any check that fails stops with exit status 1 and names the package and the problem.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, resolve } from "node:path";

const root = new URL("..", import.meta.url).pathname;
/** Dependencies first, so a reader of the summary meets them in install order. */
export const PACKAGES = ["wasm-crypto", "io-shim", "engine", "cli"];

const args = process.argv.slice(2);
const outArg = args.indexOf("--out");
const out = resolve(outArg >= 0 ? args[outArg + 1] : join(root, "packs"));

function sh(cmd, argv, cwd = root) {
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" } });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${cmd} ${argv.join(" ")} failed (exit ${r.status ?? r.signal})`);
  }
  return r.stdout;
}

const tar = (file, ...argv) => execFileSync("tar", ["-xzOf", file, ...argv], { encoding: "utf8", maxBuffer: 64 << 20 });

/** Everything that must hold for a packed package; returns the problems found. */
function check(dir, file, list) {
  const problems = [];
  const has = (p) => list.includes(`package/${p.replace(/^\.\//, "")}`);
  const pkg = JSON.parse(tar(file, "package/package.json"));
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(pkg[field] ?? {})) {
      if (/^(workspace|link|file|portal):/.test(range)) problems.push(`${field}.${name} is "${range}"`);
    }
  }
  if (pkg.license !== "MIT") problems.push(`license is ${JSON.stringify(pkg.license)}, not "MIT"`);
  if (!pkg.repository?.url || pkg.repository.directory !== `packages/${dir}`) problems.push("repository (url, directory) is missing or wrong");
  if (!pkg.engines?.node) problems.push("engines.node is missing");
  if (!Array.isArray(pkg.files)) problems.push("files is missing");
  for (const p of ["LICENSE", "README.md", "package.json"]) if (!has(p)) problems.push(`${p} is not in the tarball`);
  // Every file the manifest points to must be in the tarball.
  const pointed = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  for (const entry of Object.values(pkg.exports ?? {})) pointed.push(...(typeof entry === "string" ? [entry] : Object.values(entry)));
  for (const p of pointed.filter(Boolean)) if (!has(p)) problems.push(`${p} (named by package.json) is not in the tarball`);
  if (dir === "io-shim") {
    for (const t of ["linux-x64", "linux-arm64"]) if (!has(`prebuilds/${t}/libtaltun_io.so`)) problems.push(`prebuilds/${t}/libtaltun_io.so is not in the tarball`);
  }
  // Every package the shipped JavaScript imports is Node's own or a declared dependency
  // (tsup leaves dependencies external and bundles the rest).
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  for (const js of list.filter((p) => p.endsWith(".js"))) {
    for (const m of tar(file, js).matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\)\s*\(\s*)["']([^"'./][^"']*)["']/g)) {
      const spec = m[1].replace(/^node:/, "");
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (!builtinModules.includes(spec) && !builtinModules.includes(name) && !declared.has(name)) {
        problems.push(`${js} imports ${m[1]}, which is not a dependency`);
      }
    }
  }
  for (const d of list.filter((p) => p.endsWith(".d.ts"))) {
    if (/<reference\s+lib\s*=\s*["']dom["']/i.test(tar(file, d))) problems.push(`${d} references lib "dom"`);
  }
  return { pkg, problems };
}

function main() {
  process.stdout.write("pack: building the packages (turbo)\n");
  sh("pnpm", ["exec", "turbo", "run", "build", ...PACKAGES.map((d) => `--filter=./packages/${d}`), "--output-logs=errors-only"]);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (/^taltun-.*\.tgz$/.test(f) || f === "packs.json") rmSync(join(out, f));

  const packs = [];
  let failed = false;
  for (const dir of PACKAGES) {
    // --json: the tarball's name; a lifecycle script's banner (io-shim's prepack) comes before it.
    const said = sh("pnpm", ["pack", "--json", "--pack-destination", out], join(root, "packages", dir));
    const file = JSON.parse(said.slice(said.indexOf("\n{") + 1)).filename;
    const list = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
    const { pkg, problems } = check(dir, file, list);
    packs.push({ name: pkg.name, version: pkg.version, dir: `packages/${dir}`, file, bytes: statSync(file).size, files: list.map((p) => p.replace(/^package\//, "")) });
    process.stdout.write(`\n${pkg.name}@${pkg.version}  ${file}  (${list.length} files, ${(statSync(file).size / 1024).toFixed(1)} KiB)\n`);
    for (const p of list) process.stdout.write(`  ${p.replace(/^package\//, "")}\n`);
    for (const p of problems) process.stdout.write(`  PROBLEM: ${p}\n`);
    failed ||= problems.length > 0;
  }
  writeFileSync(join(out, "packs.json"), `${JSON.stringify(packs, null, 2)}\n`);
  if (failed) {
    process.stderr.write("\npack: some tarballs are wrong (PROBLEM lines above)\n");
    process.exit(1);
  }
  process.stdout.write(`\npack: ${packs.length} tarballs in ${out}; install them with \`npm install ${out}/*.tgz\`\n`);
}

main();
