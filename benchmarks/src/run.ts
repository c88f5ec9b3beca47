// Runs every benchmark suite in this folder, in order, and prints its table.
import { runUdpEcho } from "./udp-echo.js";

console.log("taltun benchmarks");
await runUdpEcho();
