#!/usr/bin/env bash
# The Python binding's tests (bindings/python, ctypes over the C ABI).
#
#   1. builds librocwebsocket (cargo build --release --lib)
#   2. makes a virtualenv at target/py-venv with the machine's python3 and
#      installs pytest and websockets into it (once); openssl if missing
#   3. runs pytest on bindings/python/tests with ROCWS_LIB pointing at the build
#
# Exits non-zero on any failure, including pytest's exit code 5 (no test ran).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

step() { printf '\n==== %s\n' "$*"; }

step "build librocwebsocket (release)"
# rocws too: tests/test_feed.py runs `rocws exchange-sim`.
cargo build --release --lib --bin rocws --quiet

step "virtualenv target/py-venv"
venv=$root/target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pytest' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check pytest
fi
# Python's own websockets client checks rocws over wss:// (tests/test_tls.py).
if ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check websockets
fi
# tests/test_tls.py makes its certificates with the openssl command.
if ! command -v openssl >/dev/null; then
    apt-get install -y -qq openssl >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
fi
"$venv/bin/python" --version

step "pytest bindings/python/tests"
cd bindings/python
status=0
ROCWS_LIB="$root/target/release/librocwebsocket.so" ROCWS_BIN="$root/target/release/rocws" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
