/**
 * `taltun up <config.toml>`: validates the configuration, starts the interface, writes the
 * pid file, applies the file again on SIGHUP (only what changed; an invalid file is
 * refused and the running configuration stays), and stops cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, type LogFormat, type RunningInterface, createLogger, startInterface } from "@taltun/engine";
import type { Command } from "commander";
import { loadConfig } from "../config-file.js";
import { summarize } from "../config-summary.js";
import { CliError, action } from "../errors.js";
import { isAlive, isTaltunUp, pidFilePath, readPidFile, removeOwnPidFile, writePidFile } from "../pidfile.js";

interface UpFlags extends Record<string, unknown> {
  logFormat: string;
  check?: boolean;
}

export function registerUp(program: Command): void {
  program
    .command("up")
    .description("bring an interface up from a TOML configuration; flags override its [interface] keys")
    .argument("<config>", "configuration file (TOML)")
    .option("--mode <mode>", "server or client")
    .option("--tun-name <name>", "TUN device name (1-15 characters)")
    .option("--local-addr <ip:port>", "UDP address to bind, e.g. 0.0.0.0:51820")
    .option("--listen-port <port>", "UDP port (instead of local_addr's)")
    .option("--vip <cidr>", "this interface's address with its prefix, e.g. 100.64.0.1/24")
    .option("--private-key-file <file>", "file holding the private key (mode 600)")
    .option("--mtu <bytes>", "TUN MTU (default 1420)")
    .option("--routes <cidrs>", "comma-separated prefixes routed into the tunnel")
    .option("--workers <n>", "data-plane worker threads (default: one per core)")
    .option("--log-level <level>", "trace, debug, info, warn, error or silent")
    .option("--metrics-addr <ip:port>", "serve Prometheus metrics on GET /metrics (a port alone: on 127.0.0.1)")
    .option("--log-format <format>", "log lines as text (default) or json", "text")
    .option("--check", "validate the configuration (with the flags), print it without secrets, and exit")
    .action(action(async (file: string, flags: UpFlags) => up(file, flags)));
}

async function up(file: string, flags: UpFlags): Promise<void> {
  // Flag values are checked by the same validation as the file, so every error reads alike.
  const config = loadConfig(file, flags);
  if (flags.logFormat !== "text" && flags.logFormat !== "json") {
    throw new ConfigError("--log-format", JSON.stringify(flags.logFormat), 'must be "text" or "json"');
  }
  if (flags.check) {
    process.stdout.write(summarize(config));
    return;
  }
  const name = config.interface.tunName;
  const logger = createLogger({ level: config.interface.logLevel, format: flags.logFormat as LogFormat }).child({ tun: name });
  const other = readPidFile(name);
  if (other !== null && other !== process.pid && isAlive(other) && isTaltunUp(other)) {
    throw new CliError(`${name} is already up (pid ${other}); stop it with \`taltun down ${name}\``);
  }
  writePidFile(name);
  let tun: RunningInterface | undefined;
  let signalled: string | undefined;
  const stop = () => tun?.stop().catch((e: unknown) => logger.error("stop failed", { error: String(e) }));
  const onSignal = (signal: string) => {
    if (signalled) {
      // A second signal means the user will not wait for a stop that hangs.
      removeOwnPidFile(name);
      process.exit(1);
    }
    signalled = signal;
    logger.info("stopping", { signal });
    void stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // One reload at a time: a SIGHUP during a reload runs another once it is done.
  let reloading: Promise<void> = Promise.resolve();
  process.on("SIGHUP", () => {
    reloading = reloading.then(async () => {
      if (!tun || signalled) return;
      try {
        await tun.apply(loadConfig(file, flags));
      } catch (e) {
        logger.error("reload refused; the running configuration stays", { error: e instanceof Error ? e.message : String(e) });
      }
    });
  });
  try {
    tun = await startInterface(config, { logger });
    if (signalled) void stop(); // a signal that came while starting
    logger.debug("pid file written", { pidFile: pidFilePath(name) });
    await tun.done;
  } catch (e) {
    throw new CliError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    removeOwnPidFile(name);
  }
  // Exit even if a library left a handle open: the interface is down and the user asked.
  process.exit(0);
}
