// A stand-in for `taltun up` in the demo tests until Taltun's data plane lands: it reads
// the same TOML and runs Debian's wireguard-go with it. wireguard-go has no user-space
// relay, so in server mode it turns the kernel's forwarding on instead.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parse } from "smol-toml";

const [cmd, file] = process.argv.slice(2);
if (cmd !== "up" || !file) throw new Error("usage: wg-standin.fixture.mjs up <config.toml>");
const { interface: i, peers } = parse(readFileSync(file, "utf8"));
const sh = (bin, ...args) => execFileSync(bin, args, { stdio: ["ignore", "inherit", "inherit"] });

const wg = spawn("wireguard-go", ["-f", i.tun_name], { env: { ...process.env, WG_PROCESS_FOREGROUND: "1" }, stdio: "inherit" });
const sock = `/var/run/wireguard/${i.tun_name}.sock`;
for (let t = 0; !existsSync(sock); t++) {
  if (t > 100) throw new Error("wireguard-go did not start");
  await new Promise((r) => setTimeout(r, 50));
}
const port = i.local_addr ? i.local_addr.split(":").pop() : "0";
sh("wg", "set", i.tun_name, "private-key", i.private_key_file, "listen-port", port);
for (const p of peers) {
  const args = ["peer", p.public_key, "allowed-ips", [p.vip, ...(p.allowed_ips ?? [])].join(",")];
  if (p.endpoint) args.push("endpoint", p.endpoint);
  if (p.persistent_keepalive) args.push("persistent-keepalive", String(p.persistent_keepalive));
  sh("wg", "set", i.tun_name, ...args);
}
sh("ip", "addr", "add", i.vip, "dev", i.tun_name);
sh("ip", "link", "set", i.tun_name, "up");
if (i.mode === "server") sh("sysctl", "-qw", "net.ipv4.ip_forward=1");
console.log(`stand-in up: ${i.tun_name}`);

const stop = () => {
  wg.kill("SIGTERM");
  wg.once("exit", () => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
