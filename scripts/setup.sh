#!/usr/bin/env bash
# Sets up a fresh Debian machine for Taltun: system packages, a pinned pnpm, the locked
# dependencies, and a build. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
# gcc-aarch64-linux-gnu + libc6-dev-arm64-cross: io-shim's linux-arm64 prebuilt library; file: its test.
# openssl: the `openssl speed` column of `pnpm bench` (priority optional: not on a minimal Debian).
# iptables, nftables: NAT in the e2e lab, and wg-quick's full-tunnel rules.
# tcpdump: the e2e sticky-source test captures what the hub sends.
# systemd: systemd-analyze, which verifies the units of packaging/systemd (e2e/src/systemd.test.ts).
APT_PACKAGES=(iproute2 iputils-ping iperf3 wireguard-go wireguard-tools build-essential kmod procps
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross file openssl iptables nftables tcpdump systemd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  as_root npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=silent
pnpm exec turbo run build --output-logs=errors-only

# The commands on the PATH: `taltun`, and `taltun-wg` for scripts and wg-quick that expect
# wireguard-go's command line. Symbolic links to this checkout's build.
BIN_DIR=${TALTUN_BIN_DIR:-/usr/local/bin}
for cmd in taltun:main.js taltun-wg:wg.js; do
  as_root ln -sf "$(pwd)/packages/cli/dist/${cmd#*:}" "$BIN_DIR/${cmd%%:*}"
done
echo "setup: done (taltun and taltun-wg are in $BIN_DIR)"
