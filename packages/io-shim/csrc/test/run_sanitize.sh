#!/usr/bin/env bash
# Runs the sanitizer build of the shim test inside a network namespace of its own,
# removed on exit whatever happens. Needs root.
set -euo pipefail
bin=$1
[ "$(id -u)" = 0 ] || { echo "test:sanitize needs root (network namespace, TUN)"; exit 1; }
ns="tt-shim-san-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout 60 ip netns exec "$ns" "$bin"
