/** The machine a benchmark ran on, and the file-name stem its results are saved under. */
import { cpus, release } from "node:os";

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
}

export function machine(): Machine {
  return { cpu: cpus()[0]?.model.trim() ?? "unknown", cores: cpus().length, kernel: release(), node: process.version };
}

/** "AMD EPYC 7B13 64-Core Processor" -> "amd-epyc-7b13-64-core-processor". */
export function slug(text: string): string {
  return text.toLowerCase().replace(/\((r|tm)\)/g, "").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "unknown";
}

/** `<kind>-<YYYY-MM-DD>-<cpu>-<cores>c-<kernel major.minor>`, e.g. e2e-2026-11-30-amd-epyc-2c-6.18. */
export function resultStem(kind: string, m: Machine, date = new Date()): string {
  const kernel = /^\d+\.\d+/.exec(m.kernel)?.[0] ?? slug(m.kernel);
  return `${kind}-${date.toISOString().slice(0, 10)}-${slug(m.cpu)}-${m.cores}c-${kernel}`;
}
