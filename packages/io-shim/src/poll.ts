/**
 * Waiting for readiness, the eventfd that wakes and stops workers, and closing fds.
 * @module
 */
import { type BatchControl, checkFd, MAX_POLL_FDS } from "./batch.js";
import { check } from "./errors.js";
import { arg, DataType, hotCall, slowCall } from "./load.js";

const pollCall = hotCall("tt_poll_wait");

/**
 * Waits until one of `cb`'s poll fds (set with {@link BatchControl.setPollFds}, e.g.
 * `[udp, tun, stopEventfd]`) is readable, or `cb.timeoutMs` passes (-1: forever). Bit i
 * of `cb.flags` also waits for fd i to be writable. Returns the number of ready fds (0:
 * timeout or signal) or -errno; `cb.ready` has bit i set for each ready fd. Blocks only
 * the calling thread.
 *
 * @example
 * cb.setPollFds([udp.fd, tun.fd, stop]);
 * cb.timeoutMs = 1000;
 * if (pollWait(cb) > 0 && cb.ready & 4) return; // stop requested
 */
export function pollWait(cb: BatchControl): number {
  const n = cb.count;
  if (n === 0 || n > MAX_POLL_FDS) throw new RangeError(`pollWait: count must be 1..${MAX_POLL_FDS}, got ${n}`);
  for (let i = 0; i < n; i++) if (cb.pollFd(i) < 0) throw new RangeError(`pollWait: fd ${i} is negative`);
  return pollCall(cb.address);
}

/** Opens a non-blocking eventfd (counter 0). */
export function eventfdOpen(): number {
  return check("eventfd open", slowCall("tt_eventfd_open", DataType.I32, []));
}

/** Makes the eventfd readable, waking every pollWait that includes it. */
export function eventfdWrite(fd: number): void {
  checkFd(fd, "eventfd write");
  check("eventfd write", slowCall("tt_eventfd_write", DataType.I32, [arg.i32(fd)]));
}

/** Resets the eventfd; returns how many writes it had absorbed (0 if none). */
export function eventfdRead(fd: number): number {
  checkFd(fd, "eventfd read");
  return check("eventfd read", slowCall("tt_eventfd_read", DataType.I32, [arg.i32(fd)]));
}

/** Closes an fd the shim opened (socket, TUN queue, eventfd). */
export function closeFd(fd: number): void {
  checkFd(fd, "close");
  check("close", slowCall("tt_close", DataType.I32, [arg.i32(fd)]));
}
