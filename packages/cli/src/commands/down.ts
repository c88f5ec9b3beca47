/** `taltun down <iface>`: stops the `taltun up` recorded in the interface's pid file. */
import { rmSync } from "node:fs";
import type { Command } from "commander";
import { CliError, action } from "../errors.js";
import { isAlive, isTaltunUp, pidFilePath, readPidFile } from "../pidfile.js";

const WAIT_MS = 10_000;

export function registerDown(program: Command): void {
  program
    .command("down")
    .description("stop the interface that `taltun up` runs")
    .argument("<iface>", "interface (tun_name)")
    .action(action(async (iface: string) => down(iface)));
}

async function down(iface: string): Promise<void> {
  const pidFile = pidFilePath(iface);
  const pid = readPidFile(iface);
  if (pid === null) throw new CliError(`${iface} is not running (no ${pidFile})`);
  if (!isAlive(pid)) {
    rmSync(pidFile, { force: true });
    throw new CliError(`${iface} is not running (pid ${pid} has exited; removed the stale ${pidFile})`);
  }
  if (!isTaltunUp(pid)) {
    throw new CliError(`pid ${pid} in ${pidFile} is not a \`taltun up\`; not stopping it (remove the file if it is stale)`);
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + WAIT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new CliError(`${iface} (pid ${pid}) did not stop within ${WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`${iface} stopped (pid ${pid})\n`);
}
