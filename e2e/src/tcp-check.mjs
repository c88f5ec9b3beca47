// A TCP transfer whose bytes are verified: `server <addr> <port>` echoes the SHA-256 of
// everything it receives; `client <addr> <port> <bytes>` sends that many random bytes and
// prints {"sent": hex, "received": hex}. Bounded by a 60 s timer either way.
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer } from "node:net";

const [mode, host, port, bytes] = process.argv.slice(2);
setTimeout(() => {
  console.error("tcp-check: timed out");
  process.exit(3);
}, 60_000).unref();

if (mode === "server") {
  const server = createServer((sock) => {
    const h = createHash("sha256");
    sock.on("data", (d) => h.update(d));
    sock.on("end", () => {
      sock.end(h.digest("hex"));
      server.close();
    });
  }).listen(Number(port), host, () => console.log("listening"));
} else {
  const h = createHash("sha256");
  const sock = connect(Number(port), host, () => {
    let left = Number(bytes);
    const pump = () => {
      while (left > 0) {
        const chunk = randomBytes(Math.min(left, 65536));
        left -= chunk.length;
        h.update(chunk);
        if (!sock.write(chunk)) return void sock.once("drain", pump);
      }
      sock.end();
    };
    pump();
  });
  let reply = "";
  sock.on("data", (d) => (reply += d));
  sock.on("end", () => console.log(JSON.stringify({ sent: h.digest("hex"), received: reply })));
  sock.on("error", (e) => {
    console.error(`tcp-check: ${e.message}`);
    process.exit(2);
  });
}
