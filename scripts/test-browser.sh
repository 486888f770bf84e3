#!/usr/bin/env bash
# A real browser against rocws: headless Chromium (Debian's package, installed
# when missing) loads tests/browser/echo.html, which opens a WebSocket to
# `rocws serve --protocol chat`, checks the chosen subprotocol, echoes three
# text messages (one of 200 KB, multi-byte UTF-8) and a binary one, and closes
# with 4000. Twice: over ws://, then over wss:// (rocws serve --tls-cert with a
# certificate made here by openssl; Chromium told --ignore-certificate-errors).
# Exits non-zero unless the page reports exactly that both times.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v chromium >/dev/null; then
    echo "test-browser: installing Debian's chromium"
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
if ! command -v openssl >/dev/null; then
    echo "test-browser: installing Debian's openssl"
    apt-get install -y -qq openssl >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
fi
[[ -x target/release/rocws ]] || cargo build --release --quiet --bin rocws

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
SERVER= HTTP= BROWSER=
trap 'kill $SERVER $HTTP $BROWSER 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK" 2>/dev/null || true' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1

passed=0 failed=0
# run_page ws|wss: one page load against a fresh server; counts the outcome.
run_page() {
    local scheme=$1 tls=()
    [[ $scheme == wss ]] && tls=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
    local ws_port http_port profile=$WORK/$scheme
    ws_port=$(free_port)
    http_port=$(free_port)
    mkdir -p "$profile"
    target/release/rocws serve --listen "127.0.0.1:$ws_port" --protocol chat "${tls[@]}" 2>/dev/null &
    SERVER=$!
    local http_log="$profile/http.log"
    python3 -m http.server "$http_port" --bind 127.0.0.1 --directory tests/browser >"$http_log" 2>&1 &
    HTTP=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$ws_port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break
        sleep 0.05
    done
    # The flags keep Chromium off the network (this machine has none) and out of the
    # sandbox (root). The page reports by requesting /result?<what happened>.
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --ignore-certificate-errors \
        --user-data-dir="$profile/profile" "http://127.0.0.1:$http_port/echo.html?port=$ws_port&scheme=$scheme" \
        >/dev/null 2>&1 &
    BROWSER=$!
    local result="no result within 60 s" line
    for _ in $(seq 600); do
        if line=$(grep -m1 -o 'GET /result?[^ ]*' "$http_log"); then
            result=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1].split("?", 1)[1]))' "$line")
            break
        fi
        sleep 0.1
    done
    kill $SERVER $HTTP $BROWSER 2>/dev/null || true
    wait $SERVER $HTTP $BROWSER 2>/dev/null || true
    SERVER= HTTP= BROWSER=
    echo "test-browser ($scheme://): $(chromium --version 2>/dev/null): $result"
    # rocws serve accepts Chromium's permessage-deflate offer: the echoes are compressed.
    if [[ "$result" == *"open protocol=chat extensions=permessage-deflate"* && "$result" == *"echoes=3 binary=true close=4000 clean=true"* ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
}

run_page ws
run_page wss
echo "browser: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
