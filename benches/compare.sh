#!/usr/bin/env bash
# Server comparison: `rocws serve --threads 1` against single-threaded echo /
# relay servers built on fastwebsockets, tokio-tungstenite and libwebsockets
# (benches/peers/), all loaded by `rocws bench`, and against the floor
# (benches/peers/floor/floor.c: the least work an echo can do, no validation;
# echo cases only, it has no broadcast mode).
#
# What it measures: for each case, each server runs pinned to one CPU
# (SERVER_CPU, default 0) and `rocws bench` pinned to another (CLIENT_CPU,
# default 1) with --server-pid, so each run reports messages/s, latency
# percentiles and the server's CPU time per message. Runs are interleaved:
# every round visits every case and, within a case, every server (in an order
# that rotates from round to round), so slow drifts and other people's builds
# spread over all servers instead of landing on one. Each server is started
# fresh for each run. The table shows medians over the rounds and ratios to
# rocws (peer / rocws: above 1 means more messages/s, or more CPU per message),
# and, under each echo case, rocws' CPU per message over the floor's.
#
#   bash benches/compare.sh                    # 3 rounds of 5 s (+1 s warm-up) per run, ~9 min
#   QUICK=1 bash benches/compare.sh            # 3 rounds of 1 s, ~2 min
#   ROUNDS=5 DURATION=10 WARMUP=2 bash benches/compare.sh
#   SERVERS="rocws fastwebsockets" CASES="d1 d64" bash benches/compare.sh
#   ROCWS_BIN=/path/to/rocws bash benches/compare.sh   # use that build of rocws (not rebuilt)
#
# Raw results (one line per run) go to $OUT (default target/compare/results.tsv).
# Needs: cargo, gcc, pkg-config, python3, taskset, ss; installs
# libwebsockets-dev and libssl-dev (the floor's SHA-1) with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${QUICK:-0}" == 1 ]]; then
    ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-1} WARMUP=${WARMUP:-0.3}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-9300}
SERVERS=${SERVERS:-"rocws fastwebsockets tokio-tungstenite libwebsockets floor"}
CASES=${CASES:-"d1 d64 d64-text latency 16k fanout fanout16"}
OUT=${OUT:-target/compare/results.tsv}

ROCWS=${ROCWS_BIN:-target/release/rocws}
PEERS=benches/peers/target/release
LWS=benches/peers/lws/echo_server
FLOOR=benches/peers/floor/floor

build() {
    echo "== building (release)" >&2
    [[ -n ${ROCWS_BIN:-} ]] || cargo build --release --bin rocws >&2
    (cd benches/peers && cargo build --release >&2)
    if ! pkg-config --exists libwebsockets 2>/dev/null; then
        echo "== installing libwebsockets-dev" >&2
        apt-get install -y libwebsockets-dev >&2 ||
            { apt-get update >&2 && apt-get install -y libwebsockets-dev >&2; }
    fi
    gcc -O2 -Wall -Wextra -o "$LWS" benches/peers/lws/echo_server.c \
        $(pkg-config --cflags --libs libwebsockets)
    build_floor
}

# The floor needs libcrypto's SHA-1 for the upgrade.
build_floor() {
    if [[ ! -e /usr/include/openssl/sha.h ]]; then
        echo "== installing libssl-dev" >&2
        apt-get install -y libssl-dev >&2 ||
            { apt-get update >&2 && apt-get install -y libssl-dev >&2; }
    fi
    gcc -O2 -Wall -Wextra -Werror -o "$FLOOR" benches/peers/floor/floor.c -lcrypto
}

# case -> "server kind (echo|broadcast)" and rocws bench options
case_kind() { [[ $1 == fanout* ]] && echo broadcast || echo echo; }
case_args() {
    case $1 in
        d1) echo "--conns 100 --size 20 --depth 1" ;;
        d64) echo "--conns 100 --size 20 --depth 64" ;;
        d64-text) echo "--conns 100 --size 20 --depth 64 --text" ;;
        latency) echo "--conns 1 --size 20 --depth 1" ;;
        16k) echo "--conns 100 --size 16384 --depth 4" ;;
        fanout) echo "--mode fanout --conns 1000 --size 64 --depth 1" ;;
        fanout16) echo "--mode fanout --conns 1000 --size 64 --depth 16" ;;
        *) echo "unknown case $1" >&2; exit 2 ;;
    esac
}

# server kind port -> command line
server_cmd() {
    local bcast=""
    [[ $2 == broadcast ]] && bcast="--broadcast"
    case $1 in
        rocws) echo "$ROCWS serve --threads 1 $bcast --listen 127.0.0.1:$3" ;;
        fastwebsockets) echo "$PEERS/fws_server $bcast 127.0.0.1:$3" ;;
        tokio-tungstenite) echo "$PEERS/tt_server $bcast 127.0.0.1:$3" ;;
        libwebsockets) echo "$LWS $bcast $3" ;;
        floor) echo "$FLOOR $3" ;;
        *) echo "unknown server $1" >&2; exit 2 ;;
    esac
}

wait_listening() {
    for _ in $(seq 200); do
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.02
    done
    return 1
}

SERVER_PID=""
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

# server case round -> appends one line to $OUT
run_one() {
    local server=$1 cs=$2 round=$3 port=$((PORT + RUN % 500))
    # The floor only echoes: no line at all for the fan-out cases.
    [[ $server == floor && $(case_kind "$cs") == broadcast ]] && return
    RUN=$((RUN + 1))
    local cmd
    cmd=$(server_cmd "$server" "$(case_kind "$cs")" "$port")
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" $cmd 2>>"$LOG" &
    SERVER_PID=$!
    if ! wait_listening "$port"; then
        echo "   $server did not start" >&2
        stop_server
        printf '%s\t%s\t%s\tFAILED\t%s\n' "$cs" "$server" "$round" "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT"
        return
    fi
    local load result
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2046
    result=$("$ROCWS" bench --url "ws://127.0.0.1:$port/" $(case_args "$cs") \
        --duration "$DURATION" --warmup "$WARMUP" --pin "$CLIENT_CPU" \
        --server-pid "$SERVER_PID" 2>>"$LOG" | grep '^RESULT' || echo "FAILED")
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\n' "$cs" "$server" "$round" "$result" "$load" >>"$OUT"
    echo "   $cs $server: $(grep -o 'msgs_per_sec=[^ ]*' <<<"$result" || echo FAILED) (load $load)" >&2
}

build
mkdir -p "$(dirname "$OUT")"
LOG="${OUT%.tsv}.log"
: >"$OUT"
: >"$LOG"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
read -ra server_list <<<"$SERVERS"
RUN=0
echo "== $ROUNDS rounds, ${DURATION}s (+${WARMUP}s warm-up) per run; servers on CPU $SERVER_CPU, rocws bench on CPU $CLIENT_CPU" >&2
for round in $(seq "$ROUNDS"); do
    echo "== round $round" >&2
    for cs in $CASES; do
        n=${#server_list[@]}
        for i in $(seq 0 $((n - 1))); do
            run_one "${server_list[$(((i + round - 1) % n))]}" "$cs" "$round"
        done
    done
done

python3 - "$OUT" "$SERVERS" "$CASES" <<'EOF'
import statistics, sys

path, servers, cases = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
runs = {}
loads = []
for line in open(path):
    case, server, _round, result, load = line.rstrip("\n").split("\t")
    loads.append(float(load))
    if not result.startswith("RESULT"):
        runs.setdefault((case, server), []).append(None)
        continue
    kv = dict(f.split("=", 1) for f in result.split()[1:])
    runs.setdefault((case, server), []).append(kv)

def med(case, server, key):
    vals = []
    for kv in runs.get((case, server), []):
        if kv is None or kv.get(key, "na") in ("na", "nan"):
            continue
        vals.append(float(kv[key]))
    return statistics.median(vals) if vals else None

def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"

titles = {
    "d1": "echo, 100 conns x 20 B binary, depth 1",
    "d64": "echo, 100 conns x 20 B binary, depth 64",
    "d64-text": "echo, 100 conns x 20 B text, depth 64",
    "latency": "echo, 1 conn x 20 B, depth 1 (latency)",
    "16k": "echo, 100 conns x 16 KiB binary, depth 4",
    "fanout": "fan-out 64 B, 1 publisher -> 1000 receivers, depth 1 (deliveries/s)",
}
print()
print("medians; x rocws = peer / rocws (msgs/s: higher is better; CPU/msg: lower is better);")
print("srv/cli CPU % = share of one core used by the server / by rocws bench (near 100: that side was the limit)")
for case in cases:
    print()
    print(f"## {titles.get(case, case)}")
    print(f"| {'server':<17} | {'msgs/s':>11} | {'x rocws':>7} | {'p50 µs':>9} | {'p99 µs':>9} | {'srv CPU µs/msg':>14} | {'x rocws':>7} | {'srv CPU %':>9} | {'cli CPU %':>9} | errors | runs |")
    print(f"|{'-'*19}|{'-'*13}|{'-'*9}|{'-'*11}|{'-'*11}|{'-'*16}|{'-'*9}|{'-'*11}|{'-'*11}|--------|------|")
    base_rate = med(case, "rocws", "msgs_per_sec")
    base_cpu = med(case, "rocws", "server_cpu_us_per_msg")
    for server in servers:
        if (case, server) not in runs:
            continue  # not run for this case (the floor has no fan-out)
        rate = med(case, server, "msgs_per_sec")
        cpu = med(case, server, "server_cpu_us_per_msg")
        ok = [kv for kv in runs.get((case, server), []) if kv]
        errors = sum(int(kv["errors"]) for kv in ok)
        ratio = lambda a, b: "-" if a is None or not b else f"{a / b:.2f}"
        print(f"| {server:<17} | {fmt(rate):>11} | {ratio(rate, base_rate):>7} | "
              f"{fmt(med(case, server, 'p50_us'), 1):>9} | {fmt(med(case, server, 'p99_us'), 1):>9} | "
              f"{fmt(cpu, 3):>14} | {ratio(cpu, base_cpu):>7} | {fmt(med(case, server, 'server_cpu_pct'), 0):>9} | {fmt(med(case, server, 'client_cpu_pct'), 0):>9} | "
              f"{errors:>6} | {len(ok)}/{len(runs.get((case, server), []))} |")
    floor_cpu = med(case, "floor", "server_cpu_us_per_msg")
    if base_cpu and floor_cpu:
        print(f"\nrocws / floor, server CPU per message: **{base_cpu / floor_cpu:.2f}x** "
              f"({base_cpu:.3f} / {floor_cpu:.3f} µs)")
if loads:
    print()
    print(f"1-minute load average at run starts: min {min(loads):.2f}, median {statistics.median(loads):.2f}, max {max(loads):.2f} "
          "(about 2 means only this benchmark ran; more means other work shared the machine)")
EOF
