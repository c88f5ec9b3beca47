/** `taltun demo`: a hub and two spokes in network namespaces, traffic between them, torn down. */
import type { Command } from "commander";
import { runDemo } from "../demo/run.js";
import { action } from "../errors.js";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("run a hub and two spokes in network namespaces: handshakes, relay ping, throughput (needs root)")
    .option("--seconds <n>", "length of the throughput measurement", "5")
    .action(action(async (flags: { seconds: string }) => runDemo({ seconds: Number(flags.seconds) })));
}
