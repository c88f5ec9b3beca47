/**
 * What the adversarial scenarios (replay, rogue peer, hostile UAPI) share: reading a
 * `tcpdump -w` capture, the hub's counters as `taltun show --json` and its Prometheus
 * endpoint give them, and the kernel's own counters of a namespace.
 */
import { readFileSync } from "node:fs";
import type { Lab } from "./netns.js";
import { TALTUN_CLI } from "./taltun.js";

const HTTP_GET = new URL("./http-get.mjs", import.meta.url).pathname;
const SEND = new URL("./send-datagrams.mjs", import.meta.url).pathname;

/** One UDP datagram of a capture. */
export interface CapturedDatagram {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  payload: Buffer;
}

/**
 * The IPv4 UDP datagrams of a classic pcap file as tcpdump writes it on a veth (Ethernet
 * link type), GSO super-packets cut as a wire would carry them; anything else in it (ARP,
 * IPv6, truncated records) is skipped.
 */
export function readPcapUdp(file: string): CapturedDatagram[] {
  const b = readFileSync(file);
  if (b.length < 24) throw new Error(`${file}: not a pcap file (${b.length} bytes)`);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`);
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (u32(20) !== 1) throw new Error(`${file}: link type ${u32(20)}, expected Ethernet (1)`);
  const out: CapturedDatagram[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const caplen = u32(at + 8);
    const frame = b.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0] & 15) * 4;
    if (ip[0] >> 4 !== 4 || ip[9] !== 17 || ip.length < ihl + 8) continue;
    const udp = ip.subarray(ihl);
    const udpLen = udp.readUInt16BE(4);
    if (udpLen < 8 || udpLen > udp.length) continue; // snapped short: not replayable
    const addresses = {
      src: [...ip.subarray(12, 16)].join("."),
      dst: [...ip.subarray(16, 20)].join("."),
      sport: udp.readUInt16BE(0),
      dport: udp.readUInt16BE(2),
    };
    for (const payload of wireSegments(Buffer.from(udp.subarray(8, udpLen)))) out.push({ ...addresses, payload });
  }
  return out;
}

/**
 * A datagram as it would cross a real link. A veth carries a UDP GSO super-packet whole
 * (the sender's UDP_SEGMENT: transport messages of one size laid back to back), so tcpdump
 * sees one large datagram where a wire carries one datagram per message. Cut it at the
 * smallest size at which every boundary starts a transport message to the same receiver
 * index (any size: padding stops at the tunnel MTU, so 1452 is as likely as a multiple of
 * 16); anything else stays whole.
 */
function wireSegments(p: Buffer): Buffer[] {
  const TRANSPORT_MIN = 32;
  if (p.length < 2 * TRANSPORT_MIN || p.readUInt32LE(0) !== 4) return [p];
  const head = p.subarray(0, 8); // type, reserved, receiver index
  for (let size = TRANSPORT_MIN; size <= p.length - TRANSPORT_MIN; size++) {
    let fits = true;
    for (let at = size; at < p.length && fits; at += size) fits = p.length - at >= TRANSPORT_MIN && p.subarray(at, at + 8).equals(head);
    if (!fits) continue;
    const parts: Buffer[] = [];
    for (let at = 0; at < p.length; at += size) parts.push(p.subarray(at, Math.min(at + size, p.length)));
    return parts;
  }
  return [p];
}

/** The WireGuard message type of a datagram (first byte; the reserved bytes are zero). */
export const messageTypeOf = (d: CapturedDatagram): number => (d.payload.length >= 4 ? d.payload.readUInt32LE(0) : 0);

/**
 * Sends `datagrams` (payloads) from `ns` to host:port, from `bindAddr`:`bindPort` (0: any
 * port), paced so that no receive buffer overflows; returns how many went out.
 */
export function sendDatagrams(lab: Lab, ns: string, datagrams: Buffer[], host: string, port: number, bindAddr = "0.0.0.0", bindPort = 0): number {
  const input = datagrams.map((d) => d.toString("base64")).join("\n");
  const out = lab.exec(ns, ["node", SEND, bindAddr, String(bindPort), host, String(port)], input, 60_000);
  return JSON.parse(out.trim()).sent as number;
}

/** The hub's data-plane counters (`taltun show IFACE --json`, `dataplane`). */
export function dataplane(lab: Lab, ns: string, iface: string): Record<string, number> {
  return JSON.parse(lab.exec(ns, ["node", TALTUN_CLI, "show", iface, "--json"])).dataplane;
}

/** Prometheus samples by `name{labels}` from the metrics endpoint at `url`, fetched inside `ns`. */
export function scrape(lab: Lab, ns: string, url: string): Map<string, number> {
  const r = JSON.parse(lab.exec(ns, ["node", HTTP_GET, url])) as { status?: number; body?: string; error?: string };
  if (r.status !== 200) throw new Error(`${url} in ${ns}: ${r.error ?? r.status}`);
  const out = new Map<string, number>();
  for (const line of (r.body ?? "").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    const v = line.slice(at + 1);
    out.set(line.slice(0, at), v === "+Inf" ? Infinity : Number(v));
  }
  return out;
}

/** A field of /proc/net/snmp in `ns` (e.g. Icmp InEchos, Udp RcvbufErrors). */
export function snmp(lab: Lab, ns: string, proto: "Udp" | "Icmp", field: string): number {
  const lines = lab.exec(ns, ["cat", "/proc/net/snmp"]).split("\n").filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf(field)]);
}

/** `wg show IFACE <field>` as a map from public key to the rest of the line. */
export function wgShow(lab: Lab, ns: string, iface: string, field: "latest-handshakes" | "endpoints" | "transfer"): Map<string, string> {
  const out = lab.exec(ns, ["wg", "show", iface, field]);
  return new Map(out.trim().split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("\t")), l.slice(l.indexOf("\t") + 1)]));
}

/** Resident memory of a process, in KiB. */
export const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
