#!/usr/bin/env bash
# Client comparison: what receiving a feed costs a client, per message.
#
# One server, `rocws serve --threads 1 --feed 0` (100-byte JSON-like text
# messages, as fast as each client reads), pinned to SERVER_CPU (default 0).
# Each client, pinned to CLIENT_CPU (default 1), receives on CONNS
# connections for DURATION seconds after WARMUP and reports messages/s and
# its own CPU time per message (getrusage):
#   rocws-bench      rocws bench --mode feed: the lean loop over proto::Connection
#   rocws-engine     rocws bench --mode feed --engine: the net engine's client, a Handler
#   tokio-tungstenite  benches/peers tt_feed_client: ws.next() loop, current-thread runtime
#   fastwebsockets   benches/peers fws_feed_client: FragmentCollector::read_frame loop
# Client CPU per message is the number to compare; messages/s is capped by the
# server whenever a client's CPU is under 100%. Runs are interleaved over
# ROUNDS rounds, the client order rotating each round; the table shows medians
# and ratios to rocws-engine (peer / rocws-engine, lower CPU is better).
#
#   bash benches/compare-client.sh           # 3 rounds of 5 s, 1 and 10 connections
#   QUICK=1 bash benches/compare-client.sh   # 3 rounds of 1 s
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
PORT=${PORT:-9800}
CONNS=${CONNS:-"1 10"}
CLIENTS=${CLIENTS:-"rocws-bench rocws-engine tokio-tungstenite fastwebsockets"}
OUT=${OUT:-target/compare/client-results.tsv}
ROCWS=${ROCWS_BIN:-target/release/rocws}
PEERS=benches/peers/target/release

echo "== building (release)" >&2
[[ -n ${ROCWS_BIN:-} ]] || cargo build --release --bin rocws >&2
(cd benches/peers && cargo build --release >&2)

client_cmd() {
    local url=ws://127.0.0.1:$PORT/ common="--conns $2 --duration $DURATION --warmup $WARMUP"
    case $1 in
        rocws-bench) echo "$ROCWS bench --mode feed --url $url $common" ;;
        rocws-engine) echo "$ROCWS bench --mode feed --engine --url $url $common" ;;
        tokio-tungstenite) echo "$PEERS/tt_feed_client $url $common" ;;
        fastwebsockets) echo "$PEERS/fws_feed_client $url $common" ;;
        *) echo "unknown client $1" >&2; exit 2 ;;
    esac
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

mkdir -p "$(dirname "$OUT")"
LOG="${OUT%.tsv}.log"
: >"$OUT"
: >"$LOG"
read -ra client_list <<<"$CLIENTS"
for round in $(seq "$ROUNDS"); do
    echo "== round $round" >&2
    for conns in $CONNS; do
        n=${#client_list[@]}
        for i in $(seq 0 $((n - 1))); do
            client=${client_list[$(((i + round - 1) % n))]}
            taskset -c "$SERVER_CPU" "$ROCWS" serve --threads 1 --feed 0 \
                --listen "127.0.0.1:$PORT" 2>>"$LOG" &
            SERVER_PID=$!
            for _ in $(seq 200); do
                ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
                sleep 0.02
            done
            load=$(cut -d' ' -f1 /proc/loadavg)
            # shellcheck disable=SC2046
            result=$(taskset -c "$CLIENT_CPU" $(client_cmd "$client" "$conns") 2>>"$LOG" |
                grep '^RESULT' || echo FAILED)
            stop_server
            printf '%s\t%s\t%s\t%s\t%s\n' "$conns" "$client" "$round" "$result" "$load" >>"$OUT"
            echo "   $conns conns $client: $(grep -o 'client_cpu_us_per_msg=[^ ]*' <<<"$result" || echo FAILED)" >&2
            PORT=$((PORT + 1))
        done
    done
done

python3 - "$OUT" "$CLIENTS" "$CONNS" <<'EOF'
import statistics, sys

path, clients, conns_list = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
runs, loads = {}, []
for line in open(path):
    conns, client, _round, result, load = line.rstrip("\n").split("\t")
    loads.append(float(load))
    kv = dict(f.split("=", 1) for f in result.split()[1:]) if result.startswith("RESULT") else None
    runs.setdefault((conns, client), []).append(kv)

def med(conns, client, key):
    vals = [float(kv[key]) for kv in runs.get((conns, client), []) if kv and kv.get(key) not in (None, "na")]
    return statistics.median(vals) if vals else None

print()
print("feed of 100-byte text messages from rocws serve --feed 0; medians; x engine = client / rocws-engine")
for conns in conns_list:
    print()
    print(f"## {conns} connection(s)")
    print(f"| {'client':<17} | {'msgs/s':>11} | {'client CPU µs/msg':>17} | {'x engine':>8} | {'client CPU %':>12} | runs |")
    print(f"|{'-'*19}|{'-'*13}|{'-'*19}|{'-'*10}|{'-'*14}|------|")
    base = med(conns, "rocws-engine", "client_cpu_us_per_msg")
    for client in clients:
        rate = med(conns, client, "msgs_per_sec")
        cpu = med(conns, client, "client_cpu_us_per_msg")
        pct = med(conns, client, "client_cpu_pct")
        ok = len([kv for kv in runs.get((conns, client), []) if kv])
        ratio = "-" if cpu is None or not base else f"{cpu / base:.2f}"
        f = lambda v, d: "-" if v is None else f"{v:,.{d}f}"
        print(f"| {client:<17} | {f(rate, 0):>11} | {f(cpu, 4):>17} | {ratio:>8} | {f(pct, 0):>12} | {ok}/{len(runs.get((conns, client), []))} |")
if loads:
    print()
    print(f"1-minute load average at run starts: min {min(loads):.2f}, median {statistics.median(loads):.2f}, max {max(loads):.2f}")
EOF
