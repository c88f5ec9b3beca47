// The attacker of injection.test.ts: sends `count` datagrams to host:port that are not
// authentic WireGuard transport messages but carry well-formed IPv4 packets (UDP to
// `target`:`listenPort` with the payload "evil", or an ICMP echo request) that claim to
// come from `spoofed`, at offset 16 behind a transport header with an unknown receiver
// index, at offsets 0, 32 and 48, and aimed at another peer (`relayTarget`); plus short
// ones. Paced so the kernel's receive buffer does not overflow; stops by itself after 20 s.
// Prints {"sent": n, "byShape": {...}}.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";

const [host, port, count, spoofed, target, relayTarget, listenPort] = process.argv.slice(2);
const sock = createSocket("udp4");
setTimeout(() => process.exit(3), 20_000).unref();

const ip = (s) => s.split(".").map(Number);
function checksum(b) {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
function ipv4(proto, src, dst, body) {
  const p = Buffer.alloc(20 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = proto;
  p.set(ip(src), 12);
  p.set(ip(dst), 16);
  p.writeUInt16BE(checksum(p.subarray(0, 20)), 10);
  p.set(body, 20);
  return p;
}
function udp(src, dst, dport) {
  const payload = Buffer.from("evil");
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(40000, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4); // checksum 0: none, valid for IPv4
  u.set(payload, 8);
  return ipv4(17, src, dst, u);
}
function icmpEcho(src, dst) {
  const e = Buffer.alloc(16);
  e[0] = 8;
  e.writeUInt16BE(0x7777, 4);
  e.writeUInt16BE(checksum(e), 2);
  return ipv4(1, src, dst, e);
}
function transportHeader() {
  const h = randomBytes(16);
  h.writeUInt32LE(4, 0);
  return h;
}
const tag = () => Buffer.alloc(16);
const toHub = () => udp(spoofed, target, Number(listenPort));
const shapes = {
  udpAt16: () => Buffer.concat([transportHeader(), toHub(), tag()]),
  icmpAt16: () => Buffer.concat([transportHeader(), icmpEcho(spoofed, target), tag()]),
  relayAt16: () => Buffer.concat([transportHeader(), udp(spoofed, relayTarget, Number(listenPort)), tag()]),
  udpAt0: () => toHub(),
  udpAt32: () => Buffer.concat([transportHeader(), randomBytes(16), toHub(), tag()]),
  udpAt48: () => Buffer.concat([transportHeader(), randomBytes(32), toHub(), tag()]),
  short: () => Buffer.concat([transportHeader()]).subarray(0, Math.floor(Math.random() * 32)),
};
const names = Object.keys(shapes);
const byShape = Object.fromEntries(names.map((n) => [n, 0]));
let sent = 0;
function next() {
  if (sent >= Number(count)) return sock.close(() => console.log(JSON.stringify({ sent, byShape })));
  const name = names[sent % names.length];
  byShape[name]++;
  sent++;
  // A short pause every 64 datagrams keeps the hub's socket buffer from overflowing.
  sock.send(shapes[name](), Number(port), host, () => (sent % 64 === 0 ? setTimeout(next, 2) : next()));
}
next();
