// Counts UDP datagrams arriving at addr:port by payload ("evil" or anything else) until
// SIGTERM or 60 s, then prints {"evil": n, "other": n, "payloads": {payload: n}} (the
// first 100 distinct payloads, for tests that tell which message got through). Prints
// "listening" when bound.
import { createSocket } from "node:dgram";

const [addr, port] = process.argv.slice(2);
const counts = { evil: 0, other: 0, payloads: {} };
const sock = createSocket("udp4");
const done = () => {
  console.log(JSON.stringify(counts));
  process.exit(0);
};
sock.on("message", (m) => {
  const text = m.toString();
  if (text === "evil") counts.evil++;
  else counts.other++;
  if (text in counts.payloads || Object.keys(counts.payloads).length < 100) counts.payloads[text] = (counts.payloads[text] ?? 0) + 1;
});
sock.bind(Number(port), addr, () => console.log("listening"));
process.on("SIGTERM", done);
setTimeout(done, 60_000).unref();
