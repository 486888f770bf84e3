#!/usr/bin/env bash
# Soak test (issue 12, item 9; not part of scripts/test-all.sh):
#
#   bash scripts/soak.sh [CONNS] [SECS] [THREADS]      # defaults: 1000 60 1
#
# Starts the release `rocws serve --threads THREADS` on a free loopback port,
# runs examples/soak.rs against it (CONNS connections for SECS seconds; random
# sizes up to 64 KiB, text and binary, a quarter fragmented, pings between
# frames; every echo checked by checksum, length and kind, in order), prints
# messages sent / received / lost / corrupt and the server's RSS at start,
# peak and end, then stops the server. Exits non-zero if anything was lost
# or corrupt or a connection failed. Extra soak options go in SOAK_ARGS
# (e.g. SOAK_ARGS="--max-size 1048576 --window 8").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

conns=${1:-1000}
secs=${2:-60}
threads=${3:-1}

cargo build --release --quiet --bin rocws --example soak
# Both ends need a descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
    echo "soak: open-file limit $(ulimit -n) is too low for $conns connections" >&2
    exit 2
fi

log=$(mktemp)
target/release/rocws serve --threads "$threads" --listen 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

addr=""
for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$addr" ] && break
    sleep 0.05
done
if [ -z "$addr" ]; then
    echo "soak: rocws serve did not start:" >&2
    cat "$log" >&2
    exit 2
fi
echo "soak: rocws serve --threads $threads on $addr (pid $server)"
# shellcheck disable=SC2086 # SOAK_ARGS is a list of options
target/release/examples/soak --addr "$addr" --conns "$conns" --secs "$secs" \
    --server-pid "$server" ${SOAK_ARGS:-}
