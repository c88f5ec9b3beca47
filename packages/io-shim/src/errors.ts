/**
 * Typed errors for system calls. The C side returns -errno; {@link check} turns that
 * into a {@link SysError} carrying the errno name, its number, and the operation.
 * @module
 */
import { constants } from "node:os";

const names = new Map<number, string>();
for (const [name, code] of Object.entries(constants.errno)) if (!names.has(code)) names.set(code, name);
// Where Linux has two names for one number, use the one its headers and strerror lead with.
for (const name of ["EAGAIN", "EOPNOTSUPP", "EDEADLK"]) {
  const code = (constants.errno as Record<string, number>)[name];
  if (code !== undefined) names.set(code, name);
}

// Linux errnos Node does not name: a TUN fd whose device was deleted answers EBADFD.
const LINUX_ONLY: Record<string, number> = { EBADFD: 77 };
for (const [name, code] of Object.entries(LINUX_ONLY)) if (!names.has(code)) names.set(code, name);

/** The errno name for a number (`1` -> `"EPERM"`), or `"E<n>"` when unknown. */
export function errnoName(code: number): string {
  return names.get(code) ?? `E${code}`;
}

/** The errno number for a name (`"EAGAIN"` -> 11). */
export function errnoCode(name: string): number {
  const c = (constants.errno as Record<string, number>)[name] ?? LINUX_ONLY[name];
  if (c === undefined) throw new TypeError(`unknown errno name ${name}`);
  return c;
}

const describe: Record<string, string> = {
  EPERM: "operation not permitted",
  EACCES: "permission denied",
  ENODEV: "no such network device",
  EEXIST: "already exists",
  EBADF: "bad file descriptor",
  EINVAL: "invalid argument",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  ESRCH: "no such entry",
  ENOENT: "no such file or entry",
  EAFNOSUPPORT: "address family not supported",
  EBUSY: "device or resource busy",
  EBADFD: "file descriptor in bad state (its device is gone)",
};

/** A failed system call: `.errno` is the name (`"EPERM"`), `.code` the number, `.op` what
 * was being done (`"tun open"`). */
export class SysError extends Error {
  override readonly name = "SysError";
  constructor(
    readonly op: string,
    readonly code: number,
    detail?: string,
  ) {
    const errno = errnoName(code);
    super(`${op}: ${errno} (${describe[errno] ?? `errno ${code}`})${detail ? `: ${detail}` : ""}`);
  }
  /** The errno name, e.g. `"EPERM"`. */
  get errno(): string {
    return errnoName(this.code);
  }
}

/** Hints added to the message for errors whose cause is usually the same. */
const hints: Record<string, Record<string, string>> = {
  "udp open": {
    EADDRINUSE: "another socket holds this port (sockets that share a port all need reusePort)",
    EADDRNOTAVAIL: "no interface in this namespace has that address",
    EPERM: "a mark (SO_MARK) needs CAP_NET_ADMIN",
  },
  "socket set mark": {
    EPERM: "SO_MARK needs CAP_NET_ADMIN",
  },
  "tun open": {
    // EACCES is what a non-root user gets from a /dev/net/tun of mode 0600 (the open
    // itself fails, before TUNSETIFF could say EPERM): the same missing privilege.
    EPERM: "creating a TUN device needs root or CAP_NET_ADMIN",
    EACCES: "creating a TUN device needs root or CAP_NET_ADMIN",
    ENOENT: "/dev/net/tun is missing (load the tun module)",
    EBUSY: "the device exists with other flags (multi-queue and vnet header must match)",
    EINVAL: "the device exists with other flags, or offload was asked without a vnet header",
  },
};

/** Returns `ret` when it is >= 0, otherwise throws the {@link SysError} for `-ret`. */
export function check(op: string, ret: number, detail?: string): number {
  if (ret >= 0) return ret;
  const hint = hints[op]?.[errnoName(-ret)];
  throw new SysError(op, -ret, [detail, hint].filter(Boolean).join("; ") || undefined);
}
