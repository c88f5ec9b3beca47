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
 * Brings an interface up from a validated configuration and serves its UAPI socket on
 * `/var/run/wireguard/<tunName>.sock` (see `uapiListen`).
 * @throws {Error} until the data plane is wired in
 * @example const tun = await startInterface(validateConfig(raw), { logger }); await tun.done;
 */
export async function startInterface(config: TaltunConfig, options: StartOptions): Promise<RunningInterface> {
  void config;
  void options;
  throw new Error("data plane not available yet");
}
