/**
 * Network namespaces for the calling thread only (setns), so a test, benchmark or demo
 * can open TUN devices and sockets inside a namespace made with `ip netns add` without
 * spawning a process. Other threads (workers, libuv's pool) stay where they are.
 * @module
 */
import { check } from "./errors.js";
import { arg, DataType, slowCall } from "./load.js";

/**
 * Moves the calling thread into the namespace `nameOrPath` (a name under /run/netns/ or
 * a path) and returns a token to {@link netnsRestore} the previous one.
 *
 * @example
 * const back = netnsEnter("tt-shim-42-1");
 * try { ... } finally { netnsRestore(back); }
 */
export function netnsEnter(nameOrPath: string): number {
  if (typeof nameOrPath !== "string" || nameOrPath.length === 0) throw new TypeError("netnsEnter: expected a namespace name or path");
  const path = nameOrPath.includes("/") ? nameOrPath : `/run/netns/${nameOrPath}`;
  return check("netns enter", slowCall("tt_netns_enter", DataType.I32, [arg.str(path)]), path);
}

/** Returns the calling thread to the namespace it left in {@link netnsEnter}. */
export function netnsRestore(token: number): void {
  if (!Number.isInteger(token) || token < 0) throw new RangeError(`netnsRestore: bad token ${token}`);
  check("netns restore", slowCall("tt_netns_restore", DataType.I32, [arg.i32(token)]));
}

/** Runs `fn` with the calling thread inside namespace `name`, and always comes back. */
export function withNetns<T>(name: string, fn: () => T): T {
  const back = netnsEnter(name);
  try {
    return fn();
  } finally {
    netnsRestore(back);
  }
}
