#!/usr/bin/env bash
# Run the Autobahn TestSuite (wstest 0.8.2) against rocws.
#
#   scripts/autobahn.sh server "<cmd that starts the server under test>" [port=9001]
#       Starts <cmd> (must listen on 127.0.0.1:port), runs wstest -m fuzzingclient
#       against ws://127.0.0.1:port, stops the server. Report: target/autobahn/server
#   scripts/autobahn.sh client "<client cmd>" [port=9002]
#       Starts wstest -m fuzzingserver on ws://127.0.0.1:port, then runs
#       `<client cmd> ws://127.0.0.1:port`. The client does the usual dance:
#       WS /getCaseCount (count arrives as a text message), WS
#       /runCase?case=i&agent=rocws for i in 1..=N echoing every message until
#       closed, then WS /updateReports?agent=rocws. This script also requests
#       /updateReports itself afterwards. Report: target/autobahn/client
#
# Env:
#   AUTOBAHN_CASES    comma-separated case patterns (default "*"), e.g. "1.*,2.*,5.*"
#   AUTOBAHN_EXCLUDE  comma-separated patterns to exclude (default: none; all
#                     517 cases, permessage-deflate's 12.* and 13.* included)
#   AUTOBAHN_EXCLUDE_REASON  text printed next to the exclusions
#   AUTOBAHN_TIMEOUT  overall limit for the wstest run / client cmd, s (default 1800)
#   AUTOBAHN_STARTUP_TIMEOUT  wait for the port to accept, s (default 120)
#   AUTOBAHN_VERBOSE=1  stream wstest's per-case output (always saved to wstest.log)
#   AUTOBAHN_WRITE_BASELINE=1  record per-case results into tests/autobahn/MODE-expected.json
#                     (otherwise a full run fails on any case that differs from it)
#   AUTOBAHN_VENV     see install-autobahn.sh
# Exit status: non-zero on any FAILED / non-excluded UNIMPLEMENTED case, on a
# missing or empty report, on missing cases, or if the client cmd fails.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="${AUTOBAHN_VENV:-$HOME/.cache/rocws/autobahn-venv}"
export AUTOBAHN_VENV="$VENV"
WSTEST="$VENV/bin/wstest"
AGENT=rocws
CASES="${AUTOBAHN_CASES:-*}"
EXCLUDE="${AUTOBAHN_EXCLUDE-}"
EXCLUDE_REASON="${AUTOBAHN_EXCLUDE_REASON:-excluded by AUTOBAHN_EXCLUDE}"
RUN_TIMEOUT="${AUTOBAHN_TIMEOUT:-1800}"
STARTUP_TIMEOUT="${AUTOBAHN_STARTUP_TIMEOUT:-120}"
export PYTHONWARNINGS=ignore   # cryptography's py2 deprecation warning on every wstest start

log() { echo "[autobahn] $*"; }
die() { echo "[autobahn] ERROR: $*" >&2; exit 2; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 2 ]] || usage
MODE="$1"; CMD="$2"
case "$MODE" in
  server) PORT="${3:-9001}" ;;
  client) PORT="${3:-9002}" ;;
  *) usage ;;
esac
URL="ws://127.0.0.1:$PORT"

bash "$SCRIPT_DIR/install-autobahn.sh"

OUT="$ROOT/target/autobahn/$MODE"
rm -rf "$OUT"
mkdir -p "$OUT"
SPEC="$ROOT/target/autobahn/fuzzing$([[ $MODE == server ]] && echo client || echo server).json"

# --- spec -------------------------------------------------------------------
python3 - "$MODE" "$URL" "$OUT" "$AGENT" "$CASES" "$EXCLUDE" "$EXCLUDE_REASON" >"$SPEC" <<'EOF'
import json, sys
mode, url, out, agent, cases, exclude, reason = sys.argv[1:]
split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
spec = {
    "outdir": out,
    "cases": split(cases) or ["*"],
    "exclude-cases": split(exclude),
    "exclude-agent-cases": {},
    "options": {"failByDrop": False},
}
if split(exclude):
    spec["note"] = "excluded: %s (%s)" % (" ".join(split(exclude)), reason)
if mode == "server":   # wstest acts as fuzzing *client* against our server
    spec["servers"] = [{"agent": agent, "url": url}]
else:                  # wstest acts as fuzzing *server* for our client
    spec["url"] = url
print(json.dumps(spec, indent=2))
EOF
log "spec $SPEC"

# Case ids wstest will run (same resolution code as wstest), used to detect
# cases silently dropped (wstest skips the rest if the peer stops accepting).
EXPECTED="$OUT/expected-cases.json"
(cd "$OUT" && "$VENV/bin/python" - "$SPEC" >"$EXPECTED" <<'EOF'
import json, sys
from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseSetname, CaseBasename
from autobahntestsuite.caseset import CaseSet
cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
ids = cs.parseSpecCases(json.load(open(sys.argv[1])))
bad = [i for i in ids if i not in cs.CasesIndices]
if bad:
    sys.stderr.write("unknown case ids: %s\n" % " ".join(bad)); sys.exit(1)
json.dump(ids, sys.stdout)
EOF
) || die "bad AUTOBAHN_CASES=$CASES"
NCASES="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$EXPECTED")"
[[ "$NCASES" -gt 0 ]] || die "case selection '$CASES' minus '$EXCLUDE' is empty"
log "cases: $CASES (excluding: ${EXCLUDE:-none}) -> $NCASES cases"

# --- process helpers ----------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

BG_PIDS=()
# start_bg LOGFILE CMD...: run in its own session/process group so the whole
# tree (e.g. `cargo run` and its child) can be stopped.
start_bg() {
  local logf="$1"; shift
  setsid "$@" </dev/null >"$logf" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}
stop_bg() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { local p; for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do stop_bg "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PORT PID WHAT LOG
wait_port() {
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  until port_open "$1"; do
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 30 "$4" >&2 || true
      die "$3 exited before listening on 127.0.0.1:$1 (log: $4)"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$4" >&2 || true; die "$3 not listening on 127.0.0.1:$1 after ${STARTUP_TIMEOUT}s"; }
    sleep 0.2
  done
}

port_open "$PORT" && die "127.0.0.1:$PORT already accepts connections (stale server?); refusing to test it"

# Ask wstest's fuzzingserver to write its reports (WS /updateReports?agent=..).
update_reports() {
  python3 - "$PORT" "$AGENT" <<'EOF'
import base64, os, socket, struct, sys
port, agent = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=300)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /updateReports?agent=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % (agent, port, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d: sys.exit("updateReports: connection closed during handshake")
    buf += d
head, buf = buf.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("updateReports: handshake refused: %r" % head[:200])
def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d: return False
        buf += d
    return True
while need(2):   # wait for the server's close frame (sent after reports are written)
    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
    hl = 2 + (2 if ln == 126 else 8 if ln == 127 else 0)
    if not need(hl): break
    if ln == 126: ln = struct.unpack(">H", buf[2:4])[0]
    elif ln == 127: ln = struct.unpack(">Q", buf[2:10])[0]
    if not need(hl + ln): break
    payload, buf = buf[hl:hl + ln], buf[hl + ln:]
    if op == 8:
        mask = os.urandom(4)
        s.sendall(bytes([0x88, 0x80 | len(payload)]) + mask +
                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        break
s.close()
EOF
}

# --- run -----------------------------------------------------------------------
STATUS=0
T0=$SECONDS
if [[ "$MODE" == server ]]; then
  log "starting server under test: $CMD (log: $OUT/server.log)"
  start_bg "$OUT/server.log" bash -c "$CMD"
  SERVER_PID=$BG_PID
  wait_port "$PORT" "$SERVER_PID" "server under test" "$OUT/server.log"
  log "server is up on $URL; running wstest -m fuzzingclient (log: $OUT/wstest.log)"
  T0=$SECONDS
  set +e
  if [[ "${AUTOBAHN_VERBOSE:-0}" == 1 ]]; then
    (cd "$OUT" && timeout -k 10 "$RUN_TIMEOUT" "$WSTEST" -m fuzzingclient -s "$SPEC" </dev/null 2>&1 | tee "$OUT/wstest.log")
    rc=${PIPESTATUS[0]}
  else
    (cd "$OUT" && exec timeout -k 10 "$RUN_TIMEOUT" "$WSTEST" -m fuzzingclient -s "$SPEC" </dev/null >"$OUT/wstest.log" 2>&1)
    rc=$?
  fi
  set -e
  [[ $rc -eq 124 ]] && { log "wstest timed out after ${RUN_TIMEOUT}s"; STATUS=1; }
  [[ $rc -ne 0 && $rc -ne 124 ]] && { log "wstest exited with $rc"; tail -n 20 "$OUT/wstest.log"; STATUS=1; }
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "WARNING: server under test exited during the run (see $OUT/server.log)"
    STATUS=1
  fi
  stop_bg "$SERVER_PID"
else
  log "starting wstest -m fuzzingserver on $URL (log: $OUT/wstest.log)"
  start_bg "$OUT/wstest.log" bash -c 'cd "$1" && exec "$2" -m fuzzingserver -s "$3" -u 0' _ "$OUT" "$WSTEST" "$SPEC"
  WSTEST_PID=$BG_PID
  wait_port "$PORT" "$WSTEST_PID" "wstest fuzzingserver" "$OUT/wstest.log"
  log "running client under test: $CMD $URL"
  T0=$SECONDS
  set +e
  timeout -k 10 "$RUN_TIMEOUT" bash -c "$CMD \"\$1\"" _ "$URL" </dev/null
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then log "client command exited with $rc$([[ $rc -eq 124 ]] && echo " (timeout ${RUN_TIMEOUT}s)")"; STATUS=1; fi
  if kill -0 "$WSTEST_PID" 2>/dev/null; then
    log "requesting /updateReports?agent=$AGENT"
    update_reports || { log "updateReports request failed"; STATUS=1; }
  else
    log "wstest fuzzingserver died (see $OUT/wstest.log)"; STATUS=1
  fi
  stop_bg "$WSTEST_PID"
fi
log "run took $((SECONDS - T0))s; HTML report: $OUT/index.html"

set +e
# Per-case results are compared with the committed baseline (a full run only);
# AUTOBAHN_WRITE_BASELINE=1 records a new one after a deliberate change.
BASELINE="$ROOT/tests/autobahn/$MODE-expected.json"
BASELINE_ARGS=()
if [[ "${AUTOBAHN_WRITE_BASELINE:-0}" == 1 ]]; then
  mkdir -p "$(dirname "$BASELINE")"
  BASELINE_ARGS=(--write-baseline "$BASELINE")
elif [[ "$CASES" == "*" && -f "$BASELINE" ]]; then
  BASELINE_ARGS=(--baseline "$BASELINE")
fi
python3 "$SCRIPT_DIR/autobahn-summary.py" "$OUT" --agent "$AGENT" --expected "$EXPECTED" \
  --excluded "$EXCLUDE" --excluded-reason "$EXCLUDE_REASON" "${BASELINE_ARGS[@]}"
SUMMARY_RC=$?
set -e
[[ $SUMMARY_RC -ne 0 ]] && STATUS=1
exit "$STATUS"
