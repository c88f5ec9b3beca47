/**
 * The interface's UDP sockets: one per worker, bound to one port with SO_REUSEPORT so the
 * kernel spreads flows over the workers. They can move to another port while the tunnel
 * runs (`wg set IF listen-port N`): the new group is bound first, each worker switches at
 * its next batch and says so, and only then are the old sockets closed, so no datagram
 * finds no socket and no worker reads a closed fd.
 * @module
 */
import type { Worker } from "node:worker_threads";
import { closeFd, eventfdWrite, socketSetMark, SysError, udpOpen } from "@taltun/io-shim";
import type { ControlMessage, WorkerMessage } from "../dataplane/worker.js";

const SOCKET_BUFFER = 8 << 20;
/** How long a worker may take to move to a new socket before its old one is closed anyway. */
const SWITCH_MS = 2000;

/** UDP segmentation offload on a group's sockets: GSO sends (UDP_SEGMENT), GRO receives (UDP_GRO). */
export interface UdpOffload {
  gso: boolean;
  gro: boolean;
}

/** What a kernel without UDP_SEGMENT or UDP_GRO (before Linux 4.18 / 5.0) answers for the option. */
const NO_OPTION = new Set(["ENOPROTOOPT", "EINVAL", "EOPNOTSUPP"]);

/**
 * Opens `count` sockets on `host`:`port` (0: any free port) sharing that port, with firewall
 * mark `mark`, with the UDP offloads of `offload`, or, when `offload` is undefined, with
 * as many as the kernel has (found by the first socket: both, or neither).
 */
function openGroup(host: string, port: number, count: number, mark: number, offload?: UdpOffload): { fds: number[]; port: number; offload: UdpOffload } {
  const fds: number[] = [];
  const open = (o: UdpOffload) => udpOpen({ address: host, port, reusePort: true, rcvbuf: SOCKET_BUFFER, sndbuf: SOCKET_BUFFER, mark, ...o });
  try {
    for (let i = 0; i < count; i++) {
      let s;
      if (offload) s = open(offload);
      else {
        try {
          s = open((offload = { gso: true, gro: true }));
        } catch (e) {
          if (!(e instanceof SysError && NO_OPTION.has(e.errno))) throw e;
          s = open((offload = { gso: false, gro: false }));
        }
      }
      // The first socket's port (the kernel's pick, for port 0) is the group's.
      fds.push(s.fd);
      port = s.port;
    }
  } catch (e) {
    fds.forEach(closeFd);
    throw e;
  }
  return { fds, port, offload: offload ?? { gso: false, gro: false } };
}

/** The sockets of a running interface. */
export class UdpSockets {
  /** The firewall mark (SO_MARK) of every socket, 0 for none: `wg set IF fwmark`. */
  mark = 0;

  private constructor(
    readonly host: string,
    public fds: number[],
    public port: number,
    private readonly offload: UdpOffload,
  ) {}

  /**
   * Binds one socket per worker on `host`:`port` (0: a free port the kernel picks), with
   * UDP GSO and GRO when the kernel has them (see {@link gso}, {@link gro}).
   */
  static open(host: string, port: number, workers: number): UdpSockets {
    const g = openGroup(host, port, workers, 0);
    return new UdpSockets(host, g.fds, g.port, g.offload);
  }

  /** The sockets send runs of same-peer, same-size packets as one UDP_SEGMENT message. */
  get gso(): boolean {
    return this.offload.gso;
  }

  /** The sockets receive GRO trains, which each worker cuts back into single packets. */
  get gro(): boolean {
    return this.offload.gro;
  }

  /** Marks every socket with `mark` (0 clears it), so policy routing can keep the tunnel's own packets out of it. */
  setMark(mark: number): void {
    for (const fd of this.fds) socketSetMark(fd, mark);
    this.mark = mark;
  }

  /**
   * Moves every worker to new sockets on `port` (0: any free port); resolves with the port
   * once the old sockets are closed. A port that cannot be bound throws and changes nothing.
   * `onSwitch` learns the new first fd at once (the control plane's own sender uses it).
   */
  async rebind(port: number, workers: readonly Worker[], wakeFds: readonly number[], onSwitch: (fd: number) => void): Promise<number> {
    if (port !== 0 && port === this.port) return this.port;
    // The same offloads: the workers' control blocks were set up for them.
    const g = openGroup(this.host, port, this.fds.length, this.mark, this.offload);
    const old = this.fds;
    this.fds = g.fds;
    this.port = g.port;
    onSwitch(g.fds[0]);
    await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(done, SWITCH_MS);
            function done() {
              clearTimeout(timer);
              w.off("message", onMessage);
              resolve();
            }
            function onMessage(m: WorkerMessage) {
              if (m.type === "udp-fd-applied" && m.fd === g.fds[i]) done();
            }
            w.on("message", onMessage);
            w.postMessage({ type: "udp-fd", fd: g.fds[i] } satisfies ControlMessage);
            eventfdWrite(wakeFds[i]);
          }),
      ),
    );
    old.forEach(closeFd);
    return this.port;
  }

  close(): void {
    this.fds.forEach(closeFd);
    this.fds = [];
  }
}
