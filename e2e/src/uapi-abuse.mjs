// A hostile client of a UAPI socket (uapi-hostile.test.ts), in a process of its own so the
// test's measurements see only the daemon. Prints one JSON line when done (or, for `hold`,
// "holding" once its connections are open; it then keeps them until SIGTERM).
//
//   storm N          N connections at once, each sending get=1 and reading to the end:
//                    {"answered", "closedEmpty", "errors": {code: n}}
//   hugeline MB      one line of MB megabytes and no newline, the connection left open:
//                    {"answer": "<first 64 bytes>", "closed": whether the daemon closed within 10 s}
//   junk MB          MB megabytes of random bytes, then its side shut; likewise
//   pipeline C N     C connections, each writing N get=1 requests and reading nothing; held
//                    until SIGTERM: {"written": bytes}
//   hold KIND N      N connections that send nothing (idle), "get=1\n" and then nothing
//                    (partial), or "get=1\n\n" then shut their side (halfclose: these read
//                    their answers); held until SIGTERM: {"answered": n, "closedByServer": n}
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";

const [path, mode, ...args] = process.argv.slice(2);
setTimeout(() => process.exit(3), 60_000).unref();
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Opens a connection; resolves to it once connected, or to the error code. */
const open = () =>
  new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => resolve(c));
    c.once("error", (e) => resolve(e.code ?? e.message));
  });

/** Everything the server sends until it closes, with close/error noted. */
const drain = (c) =>
  new Promise((resolve) => {
    const pieces = [];
    c.on("data", (d) => pieces.push(d));
    c.on("error", () => undefined);
    c.once("close", () => resolve(Buffer.concat(pieces).toString("latin1")));
  });

if (mode === "storm") {
  const n = Number(args[0]);
  const result = { answered: 0, closedEmpty: 0, other: 0, errors: {} };
  await Promise.all(
    Array.from({ length: n }, async () => {
      const c = createConnection(path);
      c.on("connect", () => c.write("get=1\n\n"));
      const text = await new Promise((resolve) => {
        const pieces = [];
        c.on("data", (d) => {
          pieces.push(d);
          if (Buffer.concat(pieces).toString().endsWith("errno=0\n\n")) c.end();
        });
        c.once("error", (e) => resolve({ error: e.code ?? e.message }));
        c.once("close", () => resolve(Buffer.concat(pieces).toString()));
      });
      if (typeof text === "object") result.errors[text.error] = (result.errors[text.error] ?? 0) + 1;
      else if (text.endsWith("errno=0\n\n")) result.answered++;
      else if (text === "") result.closedEmpty++;
      else result.other++;
    }),
  );
  print(result);
} else if (mode === "hugeline" || mode === "junk") {
  const bytes = Number(args[0]) << 20;
  const c = await open();
  if (typeof c === "string") throw new Error(c);
  const answer = drain(c).then((text) => ({ answer: text.slice(0, 64), closed: true }));
  const body = mode === "junk" ? randomBytes(bytes) : Buffer.alloc(bytes, "a");
  // The junk ends (its short lines are read to the end); the huge line does not: the daemon
  // has to give up on it by itself.
  if (mode === "junk") c.end(body);
  else c.write(Buffer.concat([Buffer.from("set=1\nprivate_key="), body]), () => undefined);
  // A daemon that buffered the line would keep the connection open: closed is then false.
  print(await Promise.race([answer, new Promise((r) => setTimeout(() => r({ answer: "", closed: false }), 10_000).unref())]));
  process.exit(0);
} else if (mode === "pipeline") {
  const [conns, n] = args.map(Number);
  let written = 0;
  for (let i = 0; i < conns; i++) {
    const c = await open();
    if (typeof c === "string") throw new Error(c);
    c.pause();
    c.on("error", () => undefined);
    const text = "get=1\n\n".repeat(n);
    c.write(text);
    written += text.length;
  }
  print({ written });
  process.on("SIGTERM", () => process.exit(0));
} else if (mode === "hold") {
  const [kind, n] = [args[0], Number(args[1])];
  const tally = { answered: 0, closedByServer: 0 };
  for (let i = 0; i < n; i++) {
    const c = await open();
    if (typeof c === "string") throw new Error(c);
    void drain(c).then((t) => (t.endsWith("errno=0\n\n") ? tally.answered++ : tally.closedByServer++));
    if (kind === "partial") c.write("get=1\n");
    if (kind === "halfclose") c.end("get=1\n\n");
  }
  print({ holding: n });
  // Held until told: the daemon may close some (to make room), and this process stays to count.
  const keep = setInterval(() => undefined, 1000);
  process.on("SIGTERM", () => {
    clearInterval(keep);
    print(tally);
    process.exit(0);
  });
} else throw new Error(`unknown mode ${mode}`);
