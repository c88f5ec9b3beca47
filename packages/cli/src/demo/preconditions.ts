/** What the demo needs before it touches anything, each with the fix in its message. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { CliError } from "../errors.js";

const SETUP = "run `bash scripts/setup.sh` (as root) to install it";

/** True when `tool` is on the PATH. */
function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

/**
 * Throws a `CliError` naming the first missing precondition and how to fix it.
 * @param cliPath the built CLI that the demo starts in each namespace
 */
export function checkPreconditions(cliPath: string): void {
  if (process.getuid?.() !== 0) {
    throw new CliError("demo needs root (it creates network namespaces and TUN devices); run it as root, e.g. `sudo pnpm taltun demo`");
  }
  if (!existsSync("/dev/net/tun")) {
    throw new CliError("demo needs /dev/net/tun; load the tun module (`modprobe tun`) or give the container the device");
  }
  for (const tool of ["ip", "iperf3", "ping", "sysctl"]) {
    if (!onPath(tool)) throw new CliError(`demo needs \`${tool}\`, which is not installed; ${SETUP}`);
  }
  if (!existsSync(cliPath)) throw new CliError(`demo needs the built CLI at ${cliPath}; run \`pnpm build\``);
}
