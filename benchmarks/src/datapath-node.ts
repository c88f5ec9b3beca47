/**
 * Runs one Taltun interface through the engine API (inside a namespace, started by
 * datapath.ts), samples its data-plane counters every 500 ms, and on SIGTERM prints the
 * samples as JSON and stops.
 */
import { createLogger, startInterface, validateConfig } from "@taltun/engine";

const config = validateConfig(JSON.parse(process.argv[2]));
const tun = await startInterface(config, { logger: createLogger({ level: "warn" }) });
const samples: Array<Record<string, number>> = [];
const timer = setInterval(() => samples.push({ t: Date.now(), ...tun.stats() }), 500);
process.stdout.write("ready\n");
process.on("SIGTERM", async () => {
  clearInterval(timer);
  samples.push({ t: Date.now(), ...tun.stats() });
  process.stdout.write(`${JSON.stringify(samples)}\n`);
  await tun.stop();
  process.exit(0);
});
