// Runs every benchmark suite in this folder, in order, and prints its table.
// `tsx src/run.ts aead` (or `udp`, `handshake`) runs only the suites named on the command line.
import { runAeadBench } from "./aead.js";
import { runHandshakeBench } from "./handshake.js";
import { runUdpEcho } from "./udp-echo.js";

const suites: Record<string, () => Promise<void>> = { aead: runAeadBench, handshake: runHandshakeBench, udp: runUdpEcho };
const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
