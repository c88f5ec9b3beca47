/** Package version, kept in step with package.json. */
export const VERSION = "0.1.1";

// The pure core (also `@taltun/engine/protocol`), then configuration, logging, the UAPI and
// the interface entry point: the user-facing side.
export * from "./core.js";
export {
  DEFAULT_MTU, MAX_MTU, MAX_PEER_NAME, INTERFACE_KEYS, PEER_KEYS, METRICS_DEFAULT_HOST, isLoopback, parseMetricsAddr, validateConfig,
  type InterfaceConfig, type LogLevel, type PeerConfig, type TaltunConfig, type ValidateOptions,
} from "./config/config.js";
export { FileRefused, readRegularFile } from "./config/file.js";
export * from "./log/log.js";
export * from "./uapi/uapi.js";
export * from "./runtime/interface.js";
export { resolveEndpoint } from "./runtime/resolve.js";

