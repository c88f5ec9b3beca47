/**
 * `taltun show [iface] [--json]`: peers, endpoints, handshakes, bytes and current rates of
 * running interfaces, read through their UAPI sockets (two samples, about a second apart).
 */
import { constants } from "node:os";
import { type DeviceSnapshot, UAPI_DIR, UapiError, uapiCounters, uapiGet, uapiInterfaces } from "@taltun/engine";
import type { Command } from "commander";
import { CliError, action } from "../errors.js";
import { type InterfaceView, formatView, splitCounters, viewOf } from "../show-format.js";

const SAMPLE_MS = 1000;
const { errno } = constants;

export function registerShow(program: Command): void {
  program
    .command("show")
    .description("show running interfaces: peers, endpoints, latest handshakes, transfer and rates")
    .argument("[iface]", `one interface (default: every socket in ${UAPI_DIR} that answers)`)
    .option("--json", "print JSON instead of text")
    .action(action(async (iface: string | undefined, flags: { json?: boolean }) => show(iface, flags.json === true)));
}

/** Samples every named interface twice; those that do not answer are left out (or fail, if named). */
export async function sample(names: string[], named: boolean): Promise<InterfaceView[]> {
  const get = async (n: string): Promise<DeviceSnapshot | null> => {
    try {
      return await uapiGet(n);
    } catch (e) {
      if (!named) return null;
      if (e instanceof UapiError && (e.errno === errno.ENOENT || e.errno === errno.ECONNREFUSED)) {
        throw new CliError(`${n} is not running (nothing answers on ${UAPI_DIR}/${n}.sock)`);
      }
      throw new CliError(`${n}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const first = await Promise.all(names.map(get));
  const t1 = Date.now();
  await new Promise((r) => setTimeout(r, SAMPLE_MS));
  const second = await Promise.all(names.map((n, i) => (first[i] ? get(n) : null)));
  const seconds = (Date.now() - t1) / 1000;
  const counters = await Promise.all(names.map((n, i) => (second[i] ? uapiCounters(n).catch(() => null) : null)));
  return names.flatMap((n, i) => {
    const [a, b] = [first[i], second[i]];
    if (!a || !b) return [];
    const view = viewOf(n, a, b, seconds);
    return [counters[i] ? { ...view, ...splitCounters(counters[i]) } : view];
  });
}

async function show(iface: string | undefined, json: boolean): Promise<void> {
  const views = await sample(iface ? [iface] : uapiInterfaces(), iface !== undefined);
  if (json) {
    process.stdout.write(JSON.stringify(iface ? views[0] : views, null, 2) + "\n");
  } else if (views.length === 0) {
    process.stdout.write(`no interfaces are running (no answering sockets in ${UAPI_DIR})\n`);
  } else {
    process.stdout.write(views.map((v) => formatView(v)).join("\n"));
  }
}
