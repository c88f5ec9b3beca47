// A handshake flood, bounded: `rate` initiations a second for `seconds` seconds to host:port,
// each with a MAC1 valid for the target's public key (anyone who knows the key can make
// one), from `sockets` source ports in turn. The initiations are random otherwise: each
// costs a responder without cookies one X25519 before it finds no such peer.
//   node handshake-flood.mjs HOST PORT PUBKEY_BASE64 RATE SECONDS [SOCKETS]
// Prints {"sent": n, "seconds": s, "rate": n/s} when done.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { CookieGenerator } from "@taltun/engine/protocol";

const [host, port, pub, rate, seconds, sockets = "64"] = process.argv.slice(2);
const total = Math.round(Number(rate) * Number(seconds));
setTimeout(() => process.exit(3), (Number(seconds) + 10) * 1000).unref();

// Distinct messages, made before the clock starts: MAC1 costs the sender too.
const mac = new CookieGenerator(Buffer.from(pub, "base64"));
const messages = Array.from({ length: 2048 }, () => {
  const m = randomBytes(148);
  m.fill(0, 1, 4);
  m[0] = 1;
  mac.addMacs(m, 0);
  return m;
});
const socks = await Promise.all(
  Array.from({ length: Number(sockets) }, () => new Promise((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, () => resolve(s));
  })),
);

let sent = 0;
let inflight = 0;
const start = performance.now();
function tick() {
  const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * Number(rate)));
  // Never more than a few thousand queued in libuv: the rate is what the host can take, not a backlog.
  while (sent < due && inflight < 4096) {
    inflight++;
    socks[sent % socks.length].send(messages[sent % messages.length], Number(port), host, () => inflight--);
    sent++;
  }
  if (sent < total && performance.now() - start < Number(seconds) * 1000 + 2000) setTimeout(tick, 1);
  else finish();
}
function finish() {
  const took = (performance.now() - start) / 1000;
  for (const s of socks) s.close();
  console.log(JSON.stringify({ sent, seconds: Math.round(took * 100) / 100, rate: Math.round(sent / took) }));
}
tick();
