#!/usr/bin/env bash
# permessage-deflate on a market-data stream, compressed versus plain:
# `rocws serve --feed 0 --threads 1` pushes 100-byte JSON ticks as fast as
# one Node `ws` client (npm's ws 8, installed into target/node-ws on first
# use) reads them, for SECONDS each way: once with the client offering
# permessage-deflate (context takeover, ws' defaults), once without. Prints
# messages per second, server CPU per message (utime+stime from /proc) and
# bytes on the wire per message (the client socket's bytesRead), and the ratio.
# Not part of the test command; a shared machine skews CPU figures.
#
#   bash benches/deflate-feed.sh [SECONDS=10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
if [ ! -d target/node-ws/node_modules/ws ]; then
    mkdir -p target/node-ws
    (cd target/node-ws && npm install --silent --no-audit --no-fund ws@8 >/dev/null)
fi
cargo build --release --quiet --bin rocws
cat >target/node-ws/feed-client.js <<'JS'
const WebSocket = require('ws');
const [port, secs, deflate] = process.argv.slice(2);
const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate === '1' });
let count = 0, start = 0, bytes0 = 0;
ws.on('open', () => { start = process.hrtime.bigint(); bytes0 = ws._socket.bytesRead; });
ws.on('message', () => { count++; });
setTimeout(() => {
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const bytes = ws._socket.bytesRead - bytes0;
  console.log(JSON.stringify({ count, secs, bytes, ext: ws.extensions }));
  process.exit(0);
}, Number(secs) * 1000);
JS
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for deflate in 1 0; do
    target/release/rocws serve --feed 0 --threads 1 --listen "127.0.0.1:$port" 2>/dev/null &
    server=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    before=$(cpu_ticks "$server")
    out=$(node target/node-ws/feed-client.js "$port" "$secs" "$deflate")
    after=$(cpu_ticks "$server")
    kill "$server"; wait "$server" 2>/dev/null || true
    python3 - "$out" "$((after - before))" "$(getconf CLK_TCK)" "$deflate" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); ticks, hz, deflate = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
n = max(r["count"], 1)
print("%-8s %s: %9.0f msg/s  server CPU %6.0f ns/msg  wire %5.1f B/msg  (100 B payload: ratio %.2f incl. headers)" % (
    "deflate" if deflate else "plain", "negotiated" if r["ext"] else "not negotiated",
    n / r["secs"], ticks / hz * 1e9 / n, r["bytes"] / n, 102.0 / (r["bytes"] / n)))
PY
done
