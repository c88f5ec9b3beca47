import { Command } from "commander";
import { VERSION } from "@taltun/engine";

const program = new Command()
  .name("taltun")
  .description("Userspace WireGuard-compatible VPN for Linux")
  .version(VERSION);

program.parse();
