#!/usr/bin/env bash
# Topics across nodes, measured: 1 publisher, 1,000 subscribers, 64-byte text
# messages, through `rocws serve --broadcast` with `rocws bench --mode fanout
# --topic`:
#
#   one    one node (--threads 1), no broker: every subscriber on it
#   three  three nodes (--threads 1 each) on one redis-server, subscribers
#          dealt round-robin, the publisher on the first
#
# Per configuration: deliveries/s at saturation (--depth 4: at most 4
# messages not yet received by everyone), publish-to-receive p50/p99 at a
# fixed 100 messages/s (100,000 deliveries/s), and for three nodes the
# broker's CPU per published message (redis-server's own user+system CPU
# from INFO cpu over the run, divided by its PUBLISH count from INFO
# commandstats). Prints each run's
# RESULT line and the medians of REPS runs (default 3). Everything runs on
# this machine: nodes, broker and load generator share its cores.
#
#   bash scripts/bench-cluster.sh [REPS]      about 25 s per repetition
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${1:-3}

if ! command -v redis-server >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
cargo build --release --bins --quiet
rocws=$PWD/target/release/rocws
out=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis=$!
pids+=("$redis")
wait_port "$rport"

node() { # node PORT [BROKER]: starts a node, prints nothing
    local args=(serve --broadcast --threads 1 --listen "127.0.0.1:$1")
    [ -n "${2:-}" ] && args+=(--broker "$2")
    "$rocws" "${args[@]}" 2>>"$out/nodes.log" &
    pids+=("$!")
    wait_port "$1"
}
one=$(free_port); node "$one"
urls=()
for _ in 1 2 3; do p=$(free_port); node "$p" "redis://127.0.0.1:$rport"; urls+=("ws://127.0.0.1:$p/"); done

cpu_us() { redis-cli -p "$rport" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%d", s * 1e6}'; }
publishes() { redis-cli -p "$rport" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_publish:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
bench() { "$rocws" bench --mode fanout --text --topic ticks --conns 1000 --size 64 --warmup 1 --duration 5 "$@" | grep '^RESULT'; }

for r in $(seq "$reps"); do
    bench --depth 4 --url "ws://127.0.0.1:$one/" | tee -a "$out/one.sat"
    bench --rate 100 --url "ws://127.0.0.1:$one/" | tee -a "$out/one.rate"
    t0=$(cpu_us); c0=$(publishes)
    bench --depth 4 --url "${urls[0]}" --more-url "${urls[1]}" --more-url "${urls[2]}" | tee -a "$out/three.sat"
    t1=$(cpu_us); c1=$(publishes)
    echo "$(( t1 - t0 )) $(( c1 - c0 ))" >> "$out/broker.cpu"
    bench --rate 100 --url "${urls[0]}" --more-url "${urls[1]}" --more-url "${urls[2]}" | tee -a "$out/three.rate"
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo
echo "medians of $reps runs (machine shared: nodes, redis-server and the load on the same cores)"
printf '%-6s %14s %12s %12s\n' nodes deliveries/s p50_us p99_us
for c in one three; do
    printf '%-6s %14s %12s %12s\n' "$c" \
        "$(field msgs_per_sec < "$out/$c.sat" | median)" \
        "$(field p50_us < "$out/$c.rate" | median)" \
        "$(field p99_us < "$out/$c.rate" | median)"
done
echo "broker CPU per published message (µs, three nodes at saturation): $(awk '$2 > 0 {print $1 / $2}' "$out/broker.cpu" | median)"
grep -i "broker" "$out/nodes.log" | sort | uniq -c | head -5 || true
