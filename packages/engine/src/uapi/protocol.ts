/**
 * The text protocol of the cross-platform WireGuard userspace API
 * (https://www.wireguard.com/xplatform/): the `get=1` answer and the `set=1` request,
 * their typed forms, and the device interface a running Taltun implements to serve them.
 * Keys are hex on this wire; numbers are decimal; each message ends with an empty line.
 * @module
 */
import { constants } from "node:os";
import { encodeKeyHex, parseKey } from "../protocol/keys.js";
import { type IpNet, formatHostPort, parseHostPort, parseIpNet } from "../protocol/address.js";

/** One peer as `get=1` reports it. */
export interface PeerSnapshot {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | null;
  /** Numeric `ip:port` (`[v6]:port`), or null before the peer is known to be anywhere. */
  readonly endpoint: string | null;
  /** Prefixes in `address/prefix` form. */
  readonly allowedIps: readonly string[];
  /** Time of the latest completed handshake in Unix epoch milliseconds, 0 if none. */
  readonly lastHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Seconds, 0 when off. */
  readonly persistentKeepalive: number;
}

/** The device as `get=1` reports it. */
export interface DeviceSnapshot {
  readonly privateKey: Uint8Array | null;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly PeerSnapshot[];
}

/** Changes to one peer from a `set=1` request; absent fields stay as they are. */
export interface UapiPeerChange {
  readonly publicKey: Uint8Array;
  /** Remove the peer; every other field is then ignored. */
  readonly remove: boolean;
  /** Change the peer only if it exists; never create it. */
  readonly updateOnly: boolean;
  /** A new preshared key; null removes it. */
  readonly presharedKey?: Uint8Array | null;
  /** A new numeric endpoint. */
  readonly endpoint?: string;
  readonly persistentKeepalive?: number;
  /** Drop the peer's allowed IPs before adding `allowedIps`. */
  readonly replaceAllowedIps: boolean;
  /** Prefixes to add (host bits already cleared). */
  readonly allowedIps: readonly IpNet[];
}

/** A whole `set=1` request, in order: the device's fields, then `replacePeers`, then peers. */
export interface UapiSetRequest {
  /** A new private key; null removes it. */
  readonly privateKey?: Uint8Array | null;
  readonly listenPort?: number;
  readonly fwmark?: number;
  /** Remove every peer before applying `peers`. */
  readonly replacePeers: boolean;
  readonly peers: readonly UapiPeerChange[];
  /**
   * True on every part but the last of a request applied in parts (see SetParser): the
   * device may leave publishing its changes (e.g. the data plane's allowed-IPs snapshot)
   * to the last part, which may carry no change at all.
   */
  readonly more?: boolean;
}

/**
 * What a running interface implements so that `wg show`, `wg showconf`, `wg set` and
 * `taltun show` work on it. `apply` receives a request already parsed and checked; it
 * applies all of it or throws a `UapiError` (e.g. `EADDRINUSE` for a taken listen port).
 */
export interface UapiDevice {
  snapshot(): DeviceSnapshot | Promise<DeviceSnapshot>;
  apply(request: UapiSetRequest): void | Promise<void>;
  /**
   * Taltun's own data-plane counters (packets, drops by reason, calls), answered to the
   * `get=taltun` operation, which stock tools never send. Absent: the operation is refused.
   */
  counters?(): Record<string, number>;
}

/**
 * A UAPI failure and its errno (a positive errno.h value; the socket carries it negated,
 * `errno=-22`, which is what wg expects and wireguard-go writes).
 */
export class UapiError extends Error {
  override readonly name = "UapiError";
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const { EINVAL, EPROTO } = constants.errno;

/** Writes the answer to `get=1`, without the closing `errno=0` and empty line. */
export function formatGet(s: DeviceSnapshot): string {
  return [...formatGetChunks(s, Infinity)].join("");
}

/**
 * The answer to `get=1` (without the closing `errno=0` and empty line) in pieces of about
 * `chunkBytes` characters, so that an answer of any size (a peer with 130,000 allowed IPs,
 * 10,000 peers) can be written a piece at a time, as the socket takes it.
 */
export function* formatGetChunks(s: DeviceSnapshot, chunkBytes = 32 << 10): Generator<string> {
  let lines: string[] = [];
  let size = 0;
  const line = (l: string) => {
    lines.push(l, "\n");
    size += l.length + 1;
  };
  const full = () => size >= chunkBytes;
  const take = () => {
    const text = lines.join("");
    lines = [];
    size = 0;
    return text;
  };
  if (s.privateKey) line(`private_key=${encodeKeyHex(s.privateKey)}`);
  line(`listen_port=${s.listenPort}`);
  if (s.fwmark) line(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    line(`public_key=${encodeKeyHex(p.publicKey)}`);
    line(`preshared_key=${p.presharedKey ? encodeKeyHex(p.presharedKey) : "0".repeat(64)}`);
    if (p.endpoint) line(`endpoint=${p.endpoint}`);
    for (const a of p.allowedIps) {
      line(`allowed_ip=${a}`);
      if (full()) yield take();
    }
    line(`last_handshake_time_sec=${Math.floor(p.lastHandshakeMs / 1000)}`);
    line(`last_handshake_time_nsec=${(p.lastHandshakeMs % 1000) * 1_000_000}`);
    line(`rx_bytes=${p.rxBytes}`);
    line(`tx_bytes=${p.txBytes}`);
    line(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    line("protocol_version=1");
    if (full()) yield take();
  }
  if (size > 0) yield take();
}

/** Splits `key=value` lines; a line without `=` is a protocol error. */
function* pairs(lines: readonly string[]): Generator<[string, string]> {
  for (const line of lines) {
    const eq = line.indexOf("=");
    if (eq <= 0) throw new UapiError(EPROTO, `not key=value: ${JSON.stringify(line.slice(0, 40))}`);
    yield [line.slice(0, eq), line.slice(eq + 1)];
  }
}

function invalid(key: string, why: string): never {
  throw new UapiError(EINVAL, `${key}: ${why}`);
}

function uint(key: string, v: string, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) > max) invalid(key, `must be an integer 0-${max}`);
  return Number(v);
}

function hexKey(key: string, v: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(v)) invalid(key, "must be 64 hex digits");
  const k = parseKey(v, key);
  return k.every((b) => b === 0) ? null : k; // all zeros means "no key"
}

function yes(key: string, v: string): true {
  if (v !== "true") invalid(key, 'only "true" is meaningful');
  return true;
}

type MutablePeerChange = { -readonly [K in keyof UapiPeerChange]: UapiPeerChange[K] } & { allowedIps: IpNet[] };

/**
 * Reads a `set=1` request a line at a time and hands it out in parts, so that a request of
 * any length (`wg setconf` with 130,000 allowed IPs) can be applied in order, a bounded
 * piece at a time, as wireguard-go applies it while it reads. {@link take} returns what was
 * read since the previous call as a request of its own: the device's keys and
 * `replacePeers` in the part that read them; a peer whose lines go on in the next part is
 * continued there as an `updateOnly` change of the same key (it exists by then, unless it
 * was not to be created or was removed, and then it is still skipped). A peer is split
 * only after its first `allowed_ip`, so its `remove`, `update_only` and other settings,
 * which wg writes before the allowed IPs, always reach the device with its key.
 * @example const p = new SetParser(); for (const l of lines) p.line(l); device.apply(p.take()!);
 */
export class SetParser {
  private req: { -readonly [K in keyof UapiSetRequest]: UapiSetRequest[K] } = { replacePeers: false, peers: [] };
  private peers: MutablePeerChange[] = [];
  /** The peer the lines are about, and whether the current part holds any of its lines. */
  private peer: MutablePeerChange | null = null;
  private touched = false;
  /** The current peer started (with its public_key line) in the current part. */
  private fresh = false;
  /** Lines of the current peer in the current part. */
  private peerLines = 0;
  private lines = 0;
  private newPeers = 0;
  private allPeers = 0;

  /** Lines read since the last {@link take}. */
  get pending(): number {
    return this.lines;
  }

  /** `public_key` lines read since the last {@link take}. */
  get pendingPeers(): number {
    return this.newPeers;
  }

  /** `public_key` lines read in all. */
  get peersRead(): number {
    return this.allPeers;
  }

  /**
   * Reads one line (without its newline).
   * @throws {UapiError} EPROTO for a malformed line, EINVAL for a bad key or value
   */
  line(line: string): void {
    const eq = line.indexOf("=");
    if (eq <= 0) throw new UapiError(EPROTO, `not key=value: ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, eq);
    const v = line.slice(eq + 1);
    this.lines++;
    if (key === "public_key") {
      const pk = hexKey(key, v) ?? invalid(key, "must not be all zeros");
      this.peer = { publicKey: pk, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] };
      this.peers.push(this.peer);
      this.touched = true;
      this.fresh = true;
      this.peerLines = 1;
      this.newPeers++;
      this.allPeers++;
      return;
    }
    const peer = this.peer;
    if (!peer) {
      if (key === "private_key") this.req.privateKey = hexKey(key, v);
      else if (key === "listen_port") this.req.listenPort = uint(key, v, 65535);
      else if (key === "fwmark") this.req.fwmark = uint(key, v, 0xffffffff);
      else if (key === "replace_peers") this.req.replacePeers = yes(key, v);
      else invalid(key, "not a device key");
      return;
    }
    if (!this.touched) {
      this.peers.push(peer);
      this.touched = true;
    }
    this.peerLines++;
    if (key === "remove") peer.remove = yes(key, v);
    else if (key === "update_only") peer.updateOnly = yes(key, v);
    else if (key === "preshared_key") peer.presharedKey = hexKey(key, v);
    else if (key === "endpoint") peer.endpoint = numericEndpoint(v);
    else if (key === "persistent_keepalive_interval") peer.persistentKeepalive = uint(key, v, 65535);
    else if (key === "replace_allowed_ips") peer.replaceAllowedIps = yes(key, v);
    else if (key === "allowed_ip") peer.allowedIps.push(allowedIp(v));
    else if (key === "protocol_version") {
      if (v !== "1") invalid(key, "only version 1 exists");
    } else invalid(key, "not a peer key");
  }

  /**
   * What was read since the last call, as a request (`more`: parts of this request
   * follow); null when nothing was.
   */
  take(more = false): UapiSetRequest | null {
    if (this.lines === 0) return null;
    const p = this.peer;
    // Not yet past its settings: the peer waits for the next part, whole.
    const holdBack = more && p !== null && this.fresh && p.allowedIps.length === 0;
    const peers = holdBack ? this.peers.slice(0, -1) : this.peers;
    if (holdBack && peers.length === 0 && this.lines === this.peerLines) return null;
    const part: UapiSetRequest = more ? { ...this.req, peers, more } : { ...this.req, peers };
    this.req = { replacePeers: false, peers: [] };
    if (holdBack) {
      this.peers = [p];
      this.lines = this.peerLines;
      this.newPeers = 1;
      return part;
    }
    this.peers = [];
    this.lines = 0;
    this.newPeers = 0;
    if (p) {
      // The peer's next lines, if any, continue it; a removed peer's are read and ignored.
      this.peer = { publicKey: p.publicKey, remove: p.remove, updateOnly: true, replaceAllowedIps: false, allowedIps: [] };
      this.touched = false;
      this.fresh = false;
      this.peerLines = 0;
    }
    return part;
  }
}

/**
 * Parses the body of a whole `set=1` request (the lines after `set=1`, before the empty
 * line). Nothing is applied here: a request that fails to parse changes nothing.
 * @throws {UapiError} EPROTO for malformed lines, EINVAL for bad keys or values
 */
export function parseSet(lines: readonly string[]): UapiSetRequest {
  const p = new SetParser();
  for (const line of lines) p.line(line);
  return p.take() ?? { replacePeers: false, peers: [] };
}

function numericEndpoint(v: string): string {
  try {
    const hp = parseHostPort(v);
    parseIpNet(hp.host, "keep"); // wg resolves names itself; the wire carries addresses
    return formatHostPort(hp);
  } catch {
    return invalid("endpoint", "must be a numeric ip:port or [ipv6]:port");
  }
}

function allowedIp(v: string): IpNet {
  try {
    return parseIpNet(v, "mask"); // as the kernel does: 10.0.0.1/24 means 10.0.0.0/24
  } catch {
    return invalid("allowed_ip", "must be address/prefix");
  }
}

/**
 * Parses the answer to `get=1` (the lines before the empty line, `errno` included).
 * @throws {UapiError} with the errno the device answered, or EPROTO if it is malformed
 */
export function parseGet(lines: readonly string[]): DeviceSnapshot {
  let dev: { privateKey: Uint8Array | null; listenPort: number; fwmark: number } = { privateKey: null, listenPort: 0, fwmark: 0 };
  const peers: Array<{ -readonly [K in keyof PeerSnapshot]: PeerSnapshot[K] } & { allowedIps: string[] }> = [];
  let errno: number | null = null;
  for (const [key, v] of pairs(lines)) {
    const p = peers[peers.length - 1];
    if (key === "errno") errno = Math.abs(Number(v)); // negated on the wire
    else if (key === "public_key") {
      peers.push({ publicKey: parseKey(v, key), presharedKey: null, endpoint: null, allowedIps: [], lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 });
    } else if (!p) {
      if (key === "private_key") dev = { ...dev, privateKey: hexKey(key, v) };
      else if (key === "listen_port") dev.listenPort = Number(v);
      else if (key === "fwmark") dev.fwmark = Number(v);
    } else if (key === "preshared_key") p.presharedKey = hexKey(key, v);
    else if (key === "endpoint") p.endpoint = v;
    else if (key === "allowed_ip") p.allowedIps.push(v);
    else if (key === "last_handshake_time_sec") p.lastHandshakeMs += Number(v) * 1000;
    else if (key === "last_handshake_time_nsec") p.lastHandshakeMs += Math.floor(Number(v) / 1_000_000);
    else if (key === "rx_bytes") p.rxBytes = Number(v);
    else if (key === "tx_bytes") p.txBytes = Number(v);
    else if (key === "persistent_keepalive_interval") p.persistentKeepalive = Number(v);
  }
  if (errno === null) throw new UapiError(EPROTO, "the answer has no errno line");
  if (errno !== 0) throw new UapiError(errno, `the device answered errno=${errno}`);
  return { ...dev, peers };
}
