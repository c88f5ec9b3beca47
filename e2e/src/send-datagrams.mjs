// Sends datagrams given on stdin (one base64 payload a line) to host:port, from
// bindAddr:bindPort (port 0: any), in order, and prints {"sent": n}. Paced (a pause every
// 32) so the receiver's socket buffer never overflows: a test that counts drops by reason
// must not lose some to the kernel. Gives up after 30 s.
// Usage: node send-datagrams.mjs BIND_ADDR BIND_PORT HOST PORT < payloads
import { createSocket } from "node:dgram";

const [bindAddr, bindPort, host, port] = process.argv.slice(2);
setTimeout(() => process.exit(3), 30_000).unref();

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const payloads = input.split("\n").filter(Boolean).map((l) => Buffer.from(l, "base64"));
  const sock = createSocket("udp4");
  sock.bind(Number(bindPort), bindAddr, () => {
    let sent = 0;
    const next = () => {
      if (sent >= payloads.length) return sock.close(() => console.log(JSON.stringify({ sent })));
      sock.send(payloads[sent++], Number(port), host, (err) => {
        if (err) throw err;
        if (sent % 32 === 0) setTimeout(next, 2);
        else next();
      });
    };
    next();
  });
});
