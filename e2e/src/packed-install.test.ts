/**
 * The packages as a user gets them: `scripts/pack.mjs` packs all four with `pnpm pack` (and
 * checks the tarballs), plain `npm install` puts them into an empty project outside the
 * workspace (npm fetches the third-party dependencies, ffi-rs, pino, @noble/*, from its
 * registry or its cache), and everything below runs from that project: no workspace links,
 * no pnpm. Each package is used for real: wasm-crypto seals and opens, io-shim moves a UDP
 * batch over loopback, the engine brings up two interfaces in network namespaces that ping
 * each other through the tunnel, the cli's `npx taltun genkey` makes their keys, and
 * TypeScript compiles a consumer with `lib: ["ES2022"]` (no DOM) against the declarations.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, waitFor } from "./netns.js";

const root = new URL("../..", import.meta.url).pathname;
const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");
const NAMES = ["@taltun/wasm-crypto", "@taltun/io-shim", "@taltun/engine", "@taltun/cli"];

/** The environment without what pnpm (running this test) exports to its scripts: npm must
 * see only its own defaults, as in a user's shell. */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm|pnpm)_/i.test(k) && k !== "PNPM_HOME") env[k] = v;
  return env;
}

/** Runs a command to completion; its output, or an error carrying all of it. */
function sh(cmd: string, args: string[], cwd: string, timeoutMs: number, env = plainEnv()): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 32 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}): ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: e });
  }
}

// Scripts run inside the installed project, importing the packages by name.
const SCRIPTS: Record<string, string> = {
  "aead.mjs": `
import { randomBytes } from "node:crypto";
import { open, seal } from "@taltun/wasm-crypto";
const key = randomBytes(32), nonce = randomBytes(12), aad = Buffer.from("header");
const packet = Buffer.from("a packet through the tunnel");
const sealed = seal(key, nonce, packet, aad);
const opened = open(key, nonce, sealed, aad);
sealed[3] ^= 1;
console.log(JSON.stringify({
  sealedLength: sealed.length,
  roundTrip: opened !== null && Buffer.from(opened).equals(packet),
  tamperedOpens: open(key, nonce, sealed, aad) !== null,
}));
`,
  "udp-batch.mjs": `
import { BatchControl, closeFd, decodeEndpoint, encodeAddr, loadIoShim, udpOpen, udpRecvBatch, udpSendBatch } from "@taltun/io-shim";
loadIoShim();
// Offsets: control blocks at 0 and 128, lengths at 1024 and 1536, address records at 4096
// and 8192, send slots at 65536, receive slots at 131072 (512-byte stride).
const N = 8, STRIDE = 512;
const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
const u8 = new Uint8Array(memory.buffer), dv = new DataView(memory.buffer);
const a = udpOpen({ address: "127.0.0.1" }), b = udpOpen({ address: "127.0.0.1" });
for (let i = 0; i < N; i++) {
  const text = Buffer.from("datagram " + i);
  u8.set(text, 65536 + i * STRIDE);
  dv.setUint32(1024 + 4 * i, text.length, true);
  encodeAddr(u8, 4096 + 24 * i, "127.0.0.1:" + b.port);
}
const send = new BatchControl(memory, 0).setup({ fd: a.fd, count: N, buffer: 65536, stride: STRIDE, lengths: 1024, addrs: 4096 });
const sent = udpSendBatch(send);
const recv = new BatchControl(memory, 128);
const got = [], from = new Set();
for (const until = Date.now() + 3000; got.length < N && Date.now() < until; ) {
  recv.setup({ fd: b.fd, count: N, buffer: 131072, stride: STRIDE, lengths: 1536, addrs: 8192 });
  const n = udpRecvBatch(recv);
  if (n < 0) throw new Error("udpRecvBatch: " + n);
  for (let i = 0; i < n; i++) {
    const at = 131072 + i * STRIDE;
    got.push(Buffer.from(u8.subarray(at, at + dv.getUint32(1536 + 4 * i, true))).toString());
    from.add(decodeEndpoint(u8, 8192 + 24 * i));
  }
  if (n === 0) await new Promise((r) => setTimeout(r, 10));
}
closeFd(a.fd); closeFd(b.fd);
console.log(JSON.stringify({ sent, received: got, from: [...from], senderPort: a.port }));
`,
  "engine-up.mjs": `
import { readFileSync } from "node:fs";
import { createLogger, startInterface, validateConfig } from "@taltun/engine";
const raw = JSON.parse(readFileSync(process.argv[2], "utf8"));
const tun = await startInterface(validateConfig(raw), { logger: createLogger({ level: "warn" }) });
console.log("up " + raw.interface.tun_name + " port " + tun.listenPort);
const stop = () => tun.stop().then(() => { console.log("stopped"); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
await tun.done;
`,
  "consumer.ts": `
import { type DeviceOptions, type RunningInterface, type TaltunConfig, createLogger, encodeKey, generatePrivateKey, startInterface, validateConfig } from "@taltun/engine";
import { BatchControl, type UdpSocket, type WasmMemory, udpOpen } from "@taltun/io-shim";
import { type AeadInstance, compileAeadModule, createSharedMemory, instantiateAead, open, seal } from "@taltun/wasm-crypto";

const memory: WebAssembly.Memory = createSharedMemory(1 << 20);
const shim: WasmMemory = memory;
const module: WebAssembly.Module = compileAeadModule();
const aead: AeadInstance = instantiateAead(memory, 1024, module);
const device: Pick<DeviceOptions, "memory"> = { memory };
const control = new BatchControl(memory, 0);
const sealed: Uint8Array = seal(new Uint8Array(32), new Uint8Array(12), new Uint8Array(4));
const opened: Uint8Array | null = open(new Uint8Array(32), new Uint8Array(12), sealed);
const key: string = encodeKey(generatePrivateKey());
export async function up(raw: unknown): Promise<RunningInterface> {
  const config: TaltunConfig = validateConfig(raw);
  return startInterface(config, { logger: createLogger({ level: "silent" }) });
}
export const socket: (port: number) => UdpSocket = (port) => udpOpen({ address: "127.0.0.1", port });
export { shim, aead, device, control, opened, key };
`,
};

describe("the packed packages, installed with plain npm", () => {
  const lab = new Lab("pk");
  let project = "";
  let packs: Array<{ name: string; file: string; files: string[] }> = [];

  beforeAll(() => {
    requireLabPreconditions();
    const work = mkdtempSync(join(tmpdir(), "taltun-packed-"));
    lab.afterExit(() => rmSync(work, { recursive: true, force: true }));
    const out = join(work, "packs");
    const t0 = Date.now();
    const packLog = sh(process.execPath, [join(root, "scripts/pack.mjs"), "--out", out], root, 300_000, process.env);
    packs = JSON.parse(readFileSync(join(out, "packs.json"), "utf8"));
    console.log(`pack (${((Date.now() - t0) / 1000).toFixed(1)} s):\n${packLog.trim()}`);

    project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "taltun-packed-check", private: true, type: "module" }, null, 2)}\n`);
    const t1 = Date.now();
    const npmLog = sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...packs.map((p) => p.file)], project, 240_000);
    const tree = sh("npm", ["ls", "--all", "--depth=1"], project, 60_000);
    console.log(`npm install (${((Date.now() - t1) / 1000).toFixed(1)} s): ${npmLog.trim()}\n${tree.trim()}`);
    for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(project, name), text.trimStart());
  }, 420_000);

  afterAll(() => lab.close(), 60_000);

  it("installs all four from their tarballs, every @taltun range met by them, nothing of ours from a registry", () => {
    expect(packs.map((p) => p.name)).toEqual(NAMES);
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string; version?: string }> };
    const ours = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/@taltun\//.test(path));
    // One copy of each, at the top, resolved to the local tarball: engine's "@taltun/io-shim":
    // "0.1.1" (pnpm's rewrite of workspace:*) was met by the tarball, not fetched.
    expect(ours.map(([path]) => path).sort()).toEqual(NAMES.map((n) => `node_modules/${n}`).sort());
    for (const [, entry] of ours) expect(entry.resolved).toMatch(/^file:.*\.tgz$/);
    for (const name of NAMES) {
      const manifest = readFileSync(join(project, "node_modules", name, "package.json"), "utf8");
      expect(manifest).not.toContain("workspace:");
      for (const f of ["LICENSE", "README.md"]) expect(existsSync(join(project, "node_modules", name, f)), `${name}/${f}`).toBe(true);
    }
    const shim = packs.find((p) => p.name === "@taltun/io-shim")!;
    expect(shim.files).toEqual(expect.arrayContaining(["prebuilds/linux-x64/libtaltun_io.so", "prebuilds/linux-arm64/libtaltun_io.so"]));
    const arm = join(project, "node_modules/@taltun/io-shim/prebuilds/linux-arm64/libtaltun_io.so");
    expect(sh("readelf", ["-h", arm], project, 10_000)).toMatch(/Machine:\s+AArch64/);
  });

  it("@taltun/wasm-crypto seals and opens a packet", () => {
    const r = JSON.parse(sh("node", ["aead.mjs"], project, 30_000));
    expect(r).toEqual({ sealedLength: 27 + 16, roundTrip: true, tamperedOpens: false });
  });

  it("@taltun/io-shim sends and receives a UDP batch over loopback through BatchControl", () => {
    const r = JSON.parse(sh("node", ["udp-batch.mjs"], project, 30_000));
    expect(r.sent).toBe(8);
    expect([...r.received].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `datagram ${i}`).sort());
    expect(r.from).toEqual([`127.0.0.1:${r.senderPort}`]);
  });

  it("`npx taltun genkey` and `pubkey` work from the installed cli", () => {
    const key = sh("npx", ["--no", "taltun", "genkey"], project, 30_000).trim();
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const pub = execFileSync("npx", ["--no", "taltun", "pubkey"], { cwd: project, env: plainEnv(), input: `${key}\n`, encoding: "utf8", timeout: 30_000 }).trim();
    expect(pub).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(pub).not.toBe(key);
  });

  it("@taltun/engine brings up two interfaces in network namespaces, which ping each other through the tunnel", async () => {
    const genkey = () => sh("npx", ["--no", "taltun", "genkey"], project, 30_000).trim();
    const pubkey = (k: string) => execFileSync("npx", ["--no", "taltun", "pubkey"], { cwd: project, env: plainEnv(), input: k, encoding: "utf8", timeout: 30_000 }).trim();
    const [ka, kb] = [genkey(), genkey()];
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.link(a, "198.18.131.1/24", b, "198.18.131.2/24");
    const tunA = `${lab.tag}a`.slice(0, 15);
    const tunB = `${lab.tag}b`.slice(0, 15);
    const configs = {
      [a]: {
        interface: { mode: "server", tun_name: tunA, local_addr: "198.18.131.1:51820", vip: "100.64.131.1/24", private_key: ka, workers: 1 },
        peers: [{ vip: "100.64.131.2", public_key: pubkey(kb) }],
      },
      [b]: {
        interface: { mode: "client", tun_name: tunB, vip: "100.64.131.2/24", private_key: kb, workers: 1 },
        peers: [{ vip: "100.64.131.1", public_key: pubkey(ka), endpoint: "198.18.131.1:51820" }],
      },
    };
    const procs = [a, b].map((ns) => {
      const file = join(lab.dir, `${ns}.json`);
      writeFileSync(file, JSON.stringify(configs[ns]), { mode: 0o600 });
      return lab.spawn(ns, ["node", join(project, "engine-up.mjs"), file]);
    });
    // A process that had to be killed cannot remove its UAPI socket.
    lab.afterExit(() => {
      for (const t of [tunA, tunB]) rmSync(`/var/run/wireguard/${t}.sock`, { force: true });
    });
    for (const [i, p] of procs.entries()) {
      await waitFor(`the installed engine to bring up ${[tunA, tunB][i]}`, 20_000, () => {
        if (p.child.exitCode !== null) throw new Error(`exited: ${p.output()}`);
        return p.output().includes("up ") ? true : undefined;
      });
    }
    expect(lab.exec(a, ["ip", "-br", "addr", "show", "dev", tunA])).toContain("100.64.131.1/24");
    expect(lab.exec(b, ["ping", "-c", "3", "-i", "0.2", "-W", "5", "100.64.131.1"], undefined, 30_000)).toMatch(/3 received/);
    expect(lab.exec(a, ["wg", "show", tunA, "latest-handshakes"])).toMatch(/\t[1-9]\d*$/m);
    // A clean stop on SIGTERM.
    for (const p of procs) p.child.kill("SIGTERM");
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
    for (const p of procs) expect(p.output()).toContain("stopped");
  });

  it("type-checks a consumer with lib ES2022 and types node, no DOM, skipLibCheck false", () => {
    const check = (lib: string[]) => {
      const tsconfig = {
        compilerOptions: {
          target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib, types: ["node"],
          // @types/node comes from the workspace: it is no dependency of the packages.
          typeRoots: [join(root, "node_modules/@types")], strict: true, skipLibCheck: false, noEmit: true,
        },
        files: ["consumer.ts"],
      };
      writeFileSync(join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
      return sh(process.execPath, [tsc, "-p", "."], project, 120_000); // tsc fails (and sh throws with its errors) on any error
    };
    expect(check(["ES2022"])).toBe("");
    const files = sh(process.execPath, [tsc, "-p", ".", "--listFilesOnly"], project, 60_000);
    expect(files).not.toMatch(/lib\.dom\.d\.ts/);
    expect(files).toMatch(/@taltun\/engine\/dist\/index\.d\.ts/);
    // The shipped WebAssembly types merge with lib.dom's for a program that has it.
    expect(check(["ES2022", "DOM"])).toBe("");
  }, 240_000);
});
