/** The `taltun` command: one subcommand per file under commands/. */
import { VERSION } from "@taltun/engine";
import { Command } from "commander";
import { registerDemo } from "./commands/demo.js";
import { registerDown } from "./commands/down.js";
import { registerGenkey } from "./commands/genkey.js";
import { registerPubkey } from "./commands/pubkey.js";
import { registerShow } from "./commands/show.js";
import { registerUp } from "./commands/up.js";

const program = new Command()
  .name("taltun")
  .description("Userspace WireGuard-compatible VPN for Linux")
  .version(VERSION)
  .showHelpAfterError();

for (const register of [registerUp, registerDown, registerShow, registerGenkey, registerPubkey, registerDemo]) register(program);

await program.parseAsync();
