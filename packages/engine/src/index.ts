/** Package version, kept in step with package.json. */
export const VERSION = "0.1.0";

// Configuration, keys, logging, UAPI and the interface entry point (the user-facing side).
export * from "./keys.js";
export * from "./net-address.js";
export {
  ConfigError, DEFAULT_MTU, INTERFACE_KEYS, PEER_KEYS, validateConfig,
  type InterfaceConfig, type LogLevel, type PeerConfig, type TaltunConfig, type ValidateOptions,
} from "./config.js";
export * from "./log.js";
export * from "./uapi.js";
export * from "./interface.js";
