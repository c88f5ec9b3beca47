/** The `taltun` command: one subcommand per file under commands/. */
import { VERSION } from "@taltun/engine";
import { Command } from "commander";
import { registerDemo } from "./commands/demo.js";
import { registerDown } from "./commands/down.js";
import { registerReload } from "./commands/reload.js";
import { registerGenkey } from "./commands/genkey.js";
import { registerPubkey } from "./commands/pubkey.js";
import { registerShow } from "./commands/show.js";
import { registerUp } from "./commands/up.js";
import { EXIT_CONFIG } from "./errors.js";

const USAGE_ERRORS = new Set([
  "commander.unknownOption", "commander.unknownCommand", "commander.missingArgument", "commander.optionMissingArgument",
  "commander.excessArguments", "commander.invalidArgument",
]);

const program = new Command()
  .name("taltun")
  .description("Userspace WireGuard-compatible VPN for Linux")
  .version(VERSION)
  .exitOverride((err) => {
    // Commander's own usage errors (unknown option, missing argument) exit 2, like a bad config.
    process.exit(err.exitCode === 1 && USAGE_ERRORS.has(err.code) ? EXIT_CONFIG : err.exitCode);
  });

for (const register of [registerUp, registerDown, registerReload, registerShow, registerGenkey, registerPubkey, registerDemo]) register(program);

await program.parseAsync();
