import type { Scenario } from "./tunnel.js";

/** Taltun's pairings for the end-to-end benchmark; filled in as the data plane lands. */
export const tunnelScenarios: Scenario[] = [];
