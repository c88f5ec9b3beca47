/**
 * `taltun reload <iface>`: checks the configuration file the running `taltun up` was
 * started with, and asks it to apply it (SIGHUP). An invalid file is reported here, with
 * its error, and the running interface is left alone.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../config-file.js";
import { CliError, action } from "../errors.js";
import { isAlive, isTaltunUp, pidFilePath, readPidFile } from "../pidfile.js";

export function registerReload(program: Command): void {
  program
    .command("reload")
    .description("apply the configuration file of a running `taltun up` again (only what changed)")
    .argument("<iface>", "interface (tun_name)")
    .action(action(async (iface: string) => reload(iface)));
}

/** The configuration file `taltun up` was started with, from its command line and working directory. */
function configFileOf(pid: number): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const file = argv[argv.indexOf("up") + 1];
  if (!file) throw new CliError(`cannot tell which configuration file pid ${pid} runs`);
  return resolve(readlinkSync(`/proc/${pid}/cwd`), file);
}

async function reload(iface: string): Promise<void> {
  const pid = readPidFile(iface);
  if (pid === null || !isAlive(pid)) throw new CliError(`${iface} is not running (no live pid in ${pidFilePath(iface)})`);
  if (!isTaltunUp(pid)) throw new CliError(`pid ${pid} in ${pidFilePath(iface)} is not a \`taltun up\`; not signalling it`);
  const file = configFileOf(pid);
  // The same checks the daemon makes: a file it would refuse is refused here, with its error.
  loadConfig(file, {});
  process.kill(pid, "SIGHUP");
  process.stdout.write(`${iface}: ${file} is valid; asked pid ${pid} to apply it (its log says what changed)\n`);
}
