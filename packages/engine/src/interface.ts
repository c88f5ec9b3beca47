/**
 * Starting a Taltun interface: the one call between a validated configuration and a
 * running tunnel (TUN device, UDP sockets, data-plane workers, handshakes, UAPI socket).
 * @module
 */
import type { TaltunConfig } from "./config.js";
import type { Logger } from "./log.js";

/** Options of `startInterface`. */
export interface StartOptions {
  /** Where the interface logs; the CLI builds it from `log_level` and `--log-format`. */
  readonly logger: Logger;
}

/** A running interface. */
export interface RunningInterface {
  /** Stops the interface: workers, sockets, TUN device and the UAPI socket. */
  stop(): Promise<void>;
  /** Settles when the interface has stopped, by `stop()` or by a fatal error (rejects). */
  readonly done: Promise<void>;
}

/**
 * Brings an interface up from a validated configuration. What the CLI counts on:
 * - the UAPI socket is served with `uapiListen(config.interface.tunName, device, { logger })`
 *   for a `UapiDevice` over the live state, so `taltun show`, `wg show` and `wg set` work,
 *   and it is closed by `stop()`;
 * - peer endpoints that are host names go through `resolveEndpoint`, again when a peer
 *   stays silent past a handshake attempt;
 * - `stop()` is called once, on SIGINT/SIGTERM; `done` settles after it (or rejects on a
 *   fatal error), after which the CLI removes its pid file and exits.
 * @throws {Error} "data plane not available yet", until the data plane is wired in
 * @example const tun = await startInterface(validateConfig(raw), { logger }); await tun.done;
 */
export async function startInterface(config: TaltunConfig, options: StartOptions): Promise<RunningInterface> {
  void config; // both parameters are the contract the data plane will use
  void options;
  throw new Error("data plane not available yet");
}
