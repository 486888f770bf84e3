#!/usr/bin/env bash
# Topics across nodes (tests/cluster): a real redis-server and three
# `rocws serve --broadcast --broker` nodes on loopback, subscribers and
# publishers on every node, the broker restarted mid-stream, a node killed.
#
# Installs Debian's redis-server when missing (the tests start their own
# instances on free ports; a system service is not needed). About 1 s of
# tests after the release build the test command already made.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v redis-server >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
cargo test --release --test cluster
