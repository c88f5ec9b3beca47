// Sends `count` hostile datagrams to host:port as fast as it can (bounded by count and a
// 20 s timer): random bytes, each message type truncated, extended or forged, oversized.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";

const [host, port, count] = process.argv.slice(2);
const sock = createSocket("udp4");
setTimeout(() => process.exit(3), 20_000).unref();
const shapes = [
  () => randomBytes(1 + Math.floor(Math.random() * 1500)),
  () => withType(1, 148), // forged initiation: MAC1 cannot verify
  () => withType(1, 147),
  () => withType(2, 92),
  () => withType(3, 64),
  () => withType(4, 32 + 16 * Math.floor(Math.random() * 80)), // forged transport data
  () => withType(4, 31),
  () => withType(4, 1480 + Math.floor(Math.random() * 8000)), // larger than any slot
  () => Buffer.alloc(0),
];
function withType(type, length) {
  const b = randomBytes(length);
  if (length > 0) b[0] = type;
  if (length > 3) b.fill(0, 1, 4);
  return b;
}
let sent = 0;
function next() {
  if (sent >= Number(count)) return sock.close(() => console.log(JSON.stringify({ sent })));
  sent++;
  sock.send(shapes[sent % shapes.length](), Number(port), host, next);
}
next();
