// One HTTP request from inside a namespace: `node http-get.mjs URL [METHOD]` prints
// {"status": n, "allow": "...", "contentType": "...", "body": "...", "ms": n}, or
// {"error": "ECONNREFUSED"} when nothing answers. Gives up after 5 s.
import { request } from "node:http";

const [url, method = "GET"] = process.argv.slice(2);
const started = performance.now();
const done = (o) => {
  process.stdout.write(JSON.stringify(o) + "\n");
  process.exit(0);
};
const req = request(url, { method, timeout: 5000 }, (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (d) => (body += d));
  res.on("end", () =>
    done({ status: res.statusCode, allow: res.headers.allow ?? null, contentType: res.headers["content-type"] ?? null, body, ms: performance.now() - started }),
  );
});
req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
req.on("error", (e) => done({ error: e.code ?? e.message }));
req.end();
