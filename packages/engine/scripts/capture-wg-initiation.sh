#!/usr/bin/env bash
# Captures one handshake initiation sent by Debian's wireguard-go, for the interop test
# (src/interop.test.ts). As root: creates a private network namespace, runs wireguard-go
# in it with fresh keys and a peer at 127.0.0.1:<port> inside that namespace, listens there
# with a one-shot node UDP socket, triggers the handshake with one ping into the tunnel,
# and writes the datagram and both key pairs to test/wireguard-go-initiation.json.
# Everything it creates (namespace, interface, process) is removed on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/test/wireguard-go-initiation.json}"
ns="tt-cap-$$"
ifname="ttcap$$"
port=51999
umask 077
tmp="$(mktemp -d)"
wgpid=""

cleanup() {
  [ -n "$wgpid" ] && kill "$wgpid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -f "/var/run/wireguard/$ifname.sock"
  rm -rf "$tmp"
}
trap cleanup EXIT

wg genkey > "$tmp/i.key"; wg pubkey < "$tmp/i.key" > "$tmp/i.pub"
wg genkey > "$tmp/r.key"; wg pubkey < "$tmp/r.key" > "$tmp/r.pub"

ip netns add "$ns"
ip -n "$ns" link set lo up
WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go -f "$ifname" >"$tmp/wg.log" 2>&1 &
wgpid=$!
for _ in $(seq 50); do [ -S "/var/run/wireguard/$ifname.sock" ] && break; sleep 0.1; done
ip netns exec "$ns" wg set "$ifname" private-key "$tmp/i.key" \
  peer "$(cat "$tmp/r.pub")" endpoint "127.0.0.1:$port" allowed-ips 100.64.77.2/32
ip -n "$ns" addr add 100.64.77.1/24 dev "$ifname"
ip -n "$ns" link set "$ifname" up

# One datagram, or give up after 5 s.
ip netns exec "$ns" timeout 8 node -e '
  const s = require("node:dgram").createSocket("udp4");
  const t = setTimeout(() => { console.error("no datagram"); process.exit(1); }, 5000);
  s.on("message", (m) => { process.stdout.write(m.toString("hex")); clearTimeout(t); s.close(); });
  s.bind(Number(process.argv[1]), "127.0.0.1");
' "$port" > "$tmp/dgram.hex" &
listener=$!
sleep 0.5
ip netns exec "$ns" ping -c1 -W1 100.64.77.2 >/dev/null 2>&1 || true
wait "$listener"

node -e '
  const fs = require("node:fs");
  const [tmp, out, version] = process.argv.slice(1);
  const r = (f) => fs.readFileSync(`${tmp}/${f}`, "utf8").trim();
  const data = {
    source: "wireguard-go " + version,
    capturedAt: new Date().toISOString(),
    initiatorPrivateKey: r("i.key"), initiatorPublicKey: r("i.pub"),
    responderPrivateKey: r("r.key"), responderPublicKey: r("r.pub"),
    initiationHex: r("dgram.hex"),
  };
  fs.writeFileSync(out, JSON.stringify(data, null, 2) + "\n");
  console.log(`wrote ${out} (${data.initiationHex.length / 2} bytes)`);
' "$tmp" "$out" "$(dpkg-query -W -f='${Version}' wireguard-go)"
