#!/usr/bin/env bash
# Instructions per echoed message, counted by callgrind: a comparison of
# servers that the noise of a shared machine cannot move.
#
# Each server (rocws serve --threads 1, the floor, tokio-tungstenite's
# tt_server, fastwebsockets' fws_server, the libwebsockets echo server) runs
# under `valgrind --tool=callgrind` while `rocws bench --messages N` pushes an
# exact number of messages through it; the server's total instruction count
# (Ir, every thread) is read from callgrind's output when it exits. Fixed
# costs (start-up, 100 upgrades, closing) are removed by a base run of 100
# messages on the same 100 connections:
#
#     Ir per message = (Ir(case run) - Ir(base run)) / (N - 100)
#
# What it measures: user-space instructions only. Time spent in the kernel
# (read/write/epoll system calls, TCP) is not in callgrind's counts, and an
# instruction is not a unit of time (cache misses, branch mispredictions and
# SIMD width are not weighed). The CPU-time figures of benches/compare.sh
# include the kernel; this table shows the engines' own work, repeatably.
#
#   bash benches/callgrind.sh                      # every server and case, ~3 min after the build
#   SERVERS="rocws floor" CASES="d64" bash benches/callgrind.sh
#   SCALE=0.2 bash benches/callgrind.sh            # fewer messages per run (faster, coarser)
#   ROCWS_BIN=/path/to/rocws bash benches/callgrind.sh   # use that build of rocws (not rebuilt)
#
# Callgrind outputs go to $OUT_DIR (default target/callgrind/), the table to
# $OUT_DIR/table.md. Needs: valgrind, cargo, gcc, pkg-config, python3, ss;
# installs libwebsockets-dev and libssl-dev with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-"rocws floor tokio-tungstenite fastwebsockets libwebsockets"}
CASES=${CASES:-"d1 d64 16k"}
SCALE=${SCALE:-1}
PORT=${PORT:-9800}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT_DIR=${OUT_DIR:-target/callgrind}
# Keep glibc's memcpy/memset on vector loops: valgrind counts every iteration
# of `rep movsb` / `rep stosb` (which glibc uses above ~2 KiB) as one
# instruction, so a 128 KiB memset would count 131,072 Ir for ~4,000 cycles.
TUNABLES=${TUNABLES-glibc.cpu.x86_rep_movsb_threshold=0xffffffffffff:glibc.cpu.x86_rep_stosb_threshold=0xffffffffffff}

ROCWS=${ROCWS_BIN:-target/release/rocws}
PEERS=benches/peers/target/release
LWS=benches/peers/lws/echo_server
FLOOR=benches/peers/floor/floor
BASE_MESSAGES=100

install_dev() { # package header
    [[ -e $2 ]] && return
    echo "== installing $1" >&2
    apt-get install -y "$1" >&2 || { apt-get update >&2 && apt-get install -y "$1" >&2; }
}

build() {
    echo "== building (release)" >&2
    command -v valgrind >/dev/null || install_dev valgrind /usr/bin/valgrind
    [[ -n ${ROCWS_BIN:-} ]] || cargo build --release --bin rocws >&2
    (cd benches/peers && cargo build --release >&2)
    install_dev libwebsockets-dev /usr/include/libwebsockets.h
    install_dev libssl-dev /usr/include/openssl/sha.h
    gcc -O2 -Wall -Wextra -o "$LWS" benches/peers/lws/echo_server.c \
        $(pkg-config --cflags --libs libwebsockets)
    gcc -O2 -Wall -Wextra -Werror -o "$FLOOR" benches/peers/floor/floor.c -lcrypto
}

# case -> rocws bench options and message count (20 B: ~1 min a run for the slowest server)
case_args() {
    case $1 in
        base) echo "--conns 100 --size 20 --depth 1" ;;
        d1) echo "--conns 100 --size 20 --depth 1" ;;
        d64) echo "--conns 100 --size 20 --depth 64" ;;
        16k) echo "--conns 100 --size 16384 --depth 4" ;;
        *) echo "unknown case $1" >&2; exit 2 ;;
    esac
}
case_messages() {
    local n
    case $1 in
        base) echo "$BASE_MESSAGES"; return ;;
        d1) n=20000 ;;
        d64) n=200000 ;;
        16k) n=10000 ;;
    esac
    python3 -c "print(max($BASE_MESSAGES * 2, round($n * $SCALE)))"
}

server_cmd() { # server port
    case $1 in
        rocws) echo "$ROCWS serve --threads 1 --listen 127.0.0.1:$2" ;;
        floor) echo "$FLOOR $2" ;;
        tokio-tungstenite) echo "$PEERS/tt_server 127.0.0.1:$2" ;;
        fastwebsockets) echo "$PEERS/fws_server 127.0.0.1:$2" ;;
        libwebsockets) echo "$LWS $2" ;;
        *) echo "unknown server $1" >&2; exit 2 ;;
    esac
}

wait_listening() {
    for _ in $(seq 1500); do # valgrind starts slowly: up to 30 s
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.02
    done
    return 1
}

SERVER_PID=""
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

# server case -> appends "case server messages Ir" to $TSV (Ir "FAILED" if it failed)
run_one() {
    local server=$1 cs=$2 port=$((PORT + RUN % 100)) n out result ir started
    RUN=$((RUN + 1))
    n=$(case_messages "$cs")
    out="$OUT_DIR/$server-$cs.callgrind"
    rm -f "$out"
    started=$(date +%s)
    # shellcheck disable=SC2046
    GLIBC_TUNABLES=$TUNABLES taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
        $(server_cmd "$server" "$port") 2>>"$LOG" &
    SERVER_PID=$!
    if ! wait_listening "$port"; then
        echo "   $cs $server: did not start" >&2
        stop_server
        printf '%s\t%s\t%s\tFAILED\n' "$cs" "$server" "$n" >>"$TSV"
        return
    fi
    # shellcheck disable=SC2046
    result=$("$ROCWS" bench --url "ws://127.0.0.1:$port/" $(case_args "$cs") \
        --messages "$n" --duration 600 --pin "$CLIENT_CPU" 2>>"$LOG" | grep '^RESULT' || true)
    stop_server
    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" 2>/dev/null | head -1)
    if [[ -z $result || -z $ir ]] || ! grep -q "msgs=$n " <<<"$result" ||
        ! grep -q " errors=0 " <<<"$result"; then
        echo "   $cs $server: FAILED (see $LOG)" >&2
        ir=FAILED
    else
        echo "   $cs $server: $n messages, $ir Ir, $(($(date +%s) - started)) s" >&2
    fi
    printf '%s\t%s\t%s\t%s\n' "$cs" "$server" "$n" "$ir" >>"$TSV"
}

build
mkdir -p "$OUT_DIR"
TSV="$OUT_DIR/results.tsv"
LOG="$OUT_DIR/log.txt"
: >"$TSV"
: >"$LOG"
ulimit -n 65536 2>/dev/null || true
RUN=0
for server in $SERVERS; do
    echo "== $server" >&2
    for cs in base $CASES; do
        run_one "$server" "$cs"
    done
done

python3 - "$TSV" "$SERVERS" "$CASES" <<'EOF' | tee "$OUT_DIR/table.md"
import sys

path, servers, cases = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
runs = {}
for line in open(path):
    case, server, n, ir = line.rstrip("\n").split("\t")
    runs[(case, server)] = None if ir == "FAILED" else (int(n), int(ir))

def per_msg(case, server):
    run, base = runs.get((case, server)), runs.get(("base", server))
    if not run or not base or run[0] <= base[0]:
        return None
    return (run[1] - base[1]) / (run[0] - base[0])

titles = {
    "d1": "100 conns x 20 B, depth 1",
    "d64": "100 conns x 20 B, depth 64",
    "16k": "100 conns x 16 KiB, depth 4",
}
print()
print("user-space instructions (callgrind Ir) per echoed message, start-up and upgrades removed;")
print("x rocws = server / rocws, x floor = server / floor (lower is less work); kernel time not included")
for case in cases:
    n = next((r[0] for (c, _), r in runs.items() if c == case and r), 0)
    print()
    print(f"## {titles.get(case, case)} ({n:,} messages)")
    print(f"| {'server':<17} | {'Ir / msg':>10} | {'x rocws':>7} | {'x floor':>7} |")
    print(f"|{'-'*19}|{'-'*12}|{'-'*9}|{'-'*9}|")
    rocws, floor = per_msg(case, "rocws"), per_msg(case, "floor")
    for server in servers:
        v = per_msg(case, server)
        ratio = lambda b: "-" if v is None or not b else f"{v / b:.2f}"
        shown = "FAILED" if v is None else f"{v:,.0f}"
        print(f"| {server:<17} | {shown:>10} | {ratio(rocws):>7} | {ratio(floor):>7} |")
print()
print("fixed cost (start-up, 100 upgrades, 100 messages, closing), Ir: " + ", ".join(
    f"{s} {runs[('base', s)][1]:,}" for s in servers if runs.get(("base", s))))
EOF
