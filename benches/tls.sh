#!/usr/bin/env bash
# The cost of TLS: `rocws serve --threads 1` over wss:// against the same
# server over ws://, loaded by `rocws bench` (which speaks both).
#
# What it measures, each server pinned to SERVER_CPU (default 0) and the load
# to CLIENT_CPU (default 1), runs interleaved (plain, tls, plain, tls, ... per
# case and round), the server started fresh for each run:
#   - server CPU per message (from /proc via --server-pid) at depth 1 (100
#     connections x 20 B), depth 64 (100 x 20 B) and 16 KiB (100 x 16 KiB,
#     depth 4): the medians over the rounds, and TLS / plain as a ratio;
#   - full handshakes: HANDSHAKES connections (default 1000) opened at once by
#     one bench thread without session resumption (TLS 1.3, ECDSA P-256,
#     X25519), as connections per second of wall time and server CPU per
#     connection (TLS + WebSocket upgrade) from /proc before and after;
#   - idle memory: the server's VmRSS before and with IDLE (default 5000)
#     open idle connections, per connection, wss:// beside ws://.
#
#   bash benches/tls.sh                       # 3 rounds of 3 s (+1 s warm-up), ~3 min
#   ROUNDS=5 DURATION=5 IDLE=2000 bash benches/tls.sh
#   ROCWS_BIN=/path/to/rocws bash benches/tls.sh
#
# Raw RESULT lines go to $OUT (default target/tls-bench/results.tsv).
# Needs: cargo, openssl, taskset, ss, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HANDSHAKES=${HANDSHAKES:-1000}
IDLE=${IDLE:-5000}
PORT=${PORT:-9500}
CASES=${CASES:-"d1 d64 16k"}
OUT=${OUT:-target/tls-bench/results.tsv}
ROCWS=${ROCWS_BIN:-target/release/rocws}

[[ -n ${ROCWS_BIN:-} ]] || cargo build --release --bin rocws >&2
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
WORK=$(mktemp -d)
SERVER_PID=""
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
BENCHES=()
trap 'stop_server; kill "${BENCHES[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# A CA and a localhost certificate it signed (ECDSA P-256).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 -subj /CN=bench-CA 2>/dev/null
openssl req "${ec[@]}" -keyout "$WORK/key.pem" -out "$WORK/leaf.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$WORK/ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -out "$WORK/cert.pem" -days 2 -extfile "$WORK/ext" 2>/dev/null

RUN=0
# start_server plain|tls -> sets SERVER_PID and URL
start_server() {
    local port=$((PORT + RUN % 400)) tls=()
    RUN=$((RUN + 1))
    URL="ws://127.0.0.1:$port/"
    if [[ $1 == tls ]]; then
        tls=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
        URL="wss://localhost:$port/"
    fi
    taskset -c "$SERVER_CPU" "$ROCWS" serve --threads 1 --listen "127.0.0.1:$port" "${tls[@]}" 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 200); do
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.02
    done
    echo "server did not start" >&2
    exit 1
}

bench() { "$ROCWS" bench --url "$URL" --ca "$WORK/ca.pem" --pin "$CLIENT_CPU" "$@"; }

cpu_us() { # utime + stime of a process, in µs
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1e6 / hz }' "/proc/$1/stat"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

case_args() {
    case $1 in
        d1) echo "--conns 100 --size 20 --depth 1" ;;
        d64) echo "--conns 100 --size 20 --depth 64" ;;
        16k) echo "--conns 100 --size 16384 --depth 4" ;;
        *) echo "unknown case $1" >&2; exit 2 ;;
    esac
}

echo "== $ROUNDS rounds, ${DURATION}s (+${WARMUP}s) per run; server on CPU $SERVER_CPU, bench on CPU $CLIENT_CPU" >&2
for round in $(seq "$ROUNDS"); do
    for cs in $CASES; do
        for kind in plain tls; do
            start_server "$kind"
            # shellcheck disable=SC2046
            result=$(bench $(case_args "$cs") --duration "$DURATION" --warmup "$WARMUP" \
                --server-pid "$SERVER_PID" 2>/dev/null | grep '^RESULT' || echo FAILED)
            stop_server
            printf 'msg\t%s\t%s\t%s\t%s\n' "$cs" "$kind" "$round" "$result" >>"$OUT"
            echo "   $cs $kind: $(grep -o 'msgs_per_sec=[^ ]*\|server_cpu_us_per_msg=[^ ]*' <<<"$result" | tr '\n' ' ')" >&2
        done
    done
    for kind in plain tls; do
        start_server "$kind"
        before=$(cpu_us "$SERVER_PID")
        opened=$(bench --conns "$HANDSHAKES" --rate 1 --duration 0.1 --warmup 0 2>/dev/null |
            grep -o 'open in [0-9.]* ms' | grep -o '[0-9.]*' || echo FAILED)
        after=$(cpu_us "$SERVER_PID")
        stop_server
        printf 'handshake\t%s\t%s\topen_ms=%s server_cpu_us=%s\n' "$kind" "$round" "$opened" \
            "$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" >>"$OUT"
        echo "   $HANDSHAKES handshakes $kind: ${opened} ms" >&2
    done
done

# Idle memory: once per kind (the figure varies little).
for kind in plain tls; do
    start_server "$kind"
    sleep 0.2
    base=$(rss_kib "$SERVER_PID")
    # In batches of at most 1000 (the server drops the oldest handshake past
    # 1024 in progress per thread), each held open until all are measured.
    BENCHES=()
    left=$IDLE batch=0
    while ((left > 0)); do
        n=$((left < 1000 ? left : 1000))
        bench --conns "$n" --rate 1 --duration 600 --warmup 0 >"$WORK/idle.$batch.out" 2>&1 &
        BENCHES+=($!)
        for _ in $(seq 600); do
            grep -q 'connections open\|rocws:' "$WORK/idle.$batch.out" && break
            sleep 0.1
        done
        grep -q 'connections open' "$WORK/idle.$batch.out" || { cat "$WORK/idle.$batch.out" >&2; exit 1; }
        left=$((left - n)) batch=$((batch + 1))
    done
    sleep 1
    loaded=$(rss_kib "$SERVER_PID")
    kill "${BENCHES[@]}" 2>/dev/null || true
    wait "${BENCHES[@]}" 2>/dev/null || true
    stop_server
    printf 'idle\t%s\tconns=%s rss_before_kib=%s rss_open_kib=%s\n' "$kind" "$IDLE" "$base" "$loaded" >>"$OUT"
    echo "   idle $kind: $base KiB -> $loaded KiB with $IDLE connections" >&2
done

python3 - "$OUT" "$HANDSHAKES" <<'PY'
import statistics, sys
from collections import defaultdict
path, n = sys.argv[1], int(sys.argv[2])
msg = defaultdict(list); hs = defaultdict(list); idle = {}
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[0] == "msg" and "RESULT" in f[4]:
        kv = dict(x.split("=", 1) for x in f[4].split()[1:])
        msg[(f[1], f[2])].append((float(kv["server_cpu_us_per_msg"]), float(kv["msgs_per_sec"])))
    elif f[0] == "handshake" and "FAILED" not in f[3]:
        kv = dict(x.split("=", 1) for x in f[3].split())
        hs[f[1]].append((float(kv["open_ms"]), float(kv["server_cpu_us"])))
    elif f[0] == "idle":
        kv = dict(x.split("=", 1) for x in f[2].split())
        idle[f[1]] = (int(kv["rss_open_kib"]) - int(kv["rss_before_kib"])) * 1024 / int(kv["conns"])
med = lambda xs: statistics.median(xs)
print("\n| case | ws:// CPU µs/msg | wss:// CPU µs/msg | TLS / plain | ws:// msgs/s | wss:// msgs/s |")
print("|---|---|---|---|---|---|")
for case in ("d1", "d64", "16k"):
    p, t = msg.get((case, "plain")), msg.get((case, "tls"))
    if not p or not t:
        continue
    pc, tc = med([x[0] for x in p]), med([x[0] for x in t])
    print(f"| {case} | {pc:.3f} | {tc:.3f} | {tc / pc:.2f}x | {med([x[1] for x in p]):,.0f} | {med([x[1] for x in t]):,.0f} |")
for kind in ("plain", "tls"):
    if hs.get(kind):
        ms, cpu = med([x[0] for x in hs[kind]]), med([x[1] for x in hs[kind]])
        print(f"\n{kind}: {n} connections opened in {ms:.0f} ms ({n / ms * 1000:,.0f}/s), server CPU {cpu / n:.0f} µs each")
for kind, b in idle.items():
    print(f"idle {kind}: {b:,.0f} bytes of server RSS per connection")
PY
