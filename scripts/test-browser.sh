#!/usr/bin/env bash
# A real browser against rocws: headless Chromium (Debian's package, installed
# when missing) loads tests/browser/echo.html, which opens a WebSocket to
# `rocws serve --protocol chat`, checks the chosen subprotocol, echoes three
# text messages (one of 200 KB, multi-byte UTF-8) and a binary one, and closes
# with 4000. Exits non-zero unless the page reports exactly that.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v chromium >/dev/null; then
    echo "test-browser: installing Debian's chromium"
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
[[ -x target/release/rocws ]] || cargo build --release --quiet --bin rocws

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WS_PORT=$(free_port)
HTTP_PORT=$(free_port)
PROFILE=$(mktemp -d)
target/release/rocws serve --listen "127.0.0.1:$WS_PORT" --protocol chat 2>/dev/null &
SERVER=$!
HTTP_LOG="$PROFILE/http.log"
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory tests/browser >"$HTTP_LOG" 2>&1 &
HTTP=$!
BROWSER=
trap 'kill $SERVER $HTTP $BROWSER 2>/dev/null; wait 2>/dev/null; rm -rf "$PROFILE" 2>/dev/null; true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$WS_PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
    sleep 0.05
done

# The flags keep Chromium off the network (this machine has none) and out of the
# sandbox (root). The page reports by requesting /result?<what happened>.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE/profile" "http://127.0.0.1:$HTTP_PORT/echo.html?port=$WS_PORT" \
    >/dev/null 2>&1 &
BROWSER=$!
RESULT="no result within 60 s"
for _ in $(seq 600); do
    if LINE=$(grep -m1 -o 'GET /result?[^ ]*' "$HTTP_LOG"); then
        RESULT=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1].split("?", 1)[1]))' "$LINE")
        break
    fi
    sleep 0.1
done
echo "test-browser: $(chromium --version 2>/dev/null): $RESULT"
if [[ "$RESULT" == *"open protocol=chat"* && "$RESULT" == *"echoes=3 binary=true close=4000 clean=true"* ]]; then
    echo "browser: 1 passed, 0 failed"
else
    echo "browser: 0 passed, 1 failed"
    exit 1
fi
