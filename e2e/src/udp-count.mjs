// Counts UDP datagrams arriving at addr:port by payload ("evil" or anything else) until
// SIGTERM or 60 s, then prints {"evil": n, "other": n}. Prints "listening" when bound.
import { createSocket } from "node:dgram";

const [addr, port] = process.argv.slice(2);
const counts = { evil: 0, other: 0 };
const sock = createSocket("udp4");
const done = () => {
  console.log(JSON.stringify(counts));
  process.exit(0);
};
sock.on("message", (m) => (m.toString() === "evil" ? counts.evil++ : counts.other++));
sock.bind(Number(port), addr, () => console.log("listening"));
process.on("SIGTERM", done);
setTimeout(done, 60_000).unref();
