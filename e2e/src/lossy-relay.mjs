// A lossy, slow UDP path for fault tests, in user space because kernels without sch_netem
// cannot shape a veth: it listens on listenHost:listenPort, forwards every datagram to
// targetHost:targetPort from a socket of its own, and sends the answers back to the last
// client it heard. Each datagram is dropped with probability `loss` (0-1) and delayed by
// `delayMs`. Bounded: it exits after `seconds`. Prints {"forwarded": n, "dropped": n} on exit.
import { createSocket } from "node:dgram";

const [listenHost, listenPort, targetHost, targetPort, loss, delayMs, seconds] = process.argv.slice(2);
const family = (h) => (h.includes(":") ? "udp6" : "udp4");
const front = createSocket(family(listenHost));
const back = createSocket(family(targetHost));
let client = null;
const counts = { forwarded: 0, dropped: 0 };
const pass = (send) => {
  if (Math.random() < Number(loss)) return counts.dropped++;
  counts.forwarded++;
  setTimeout(send, Number(delayMs));
};
front.on("message", (m, from) => {
  client = from;
  pass(() => back.send(m, Number(targetPort), targetHost));
});
back.on("message", (m) => {
  if (client) pass(() => front.send(m, client.port, client.address));
});
const done = () => {
  console.log(JSON.stringify(counts));
  process.exit(0);
};
front.bind(Number(listenPort), listenHost, () => console.log("listening"));
setTimeout(done, Number(seconds) * 1000).unref();
process.on("SIGTERM", done);
