#!/usr/bin/env bash
# Every test of rocwebsocket, as CI runs them (README's test command).
#
#   1. formatting and lints (rustfmt, clippy -D warnings, rustdoc -D warnings)
#   2. cargo test: unit tests of the sans-IO core and SIMD kernels, loopback
#      integration tests of the mio engine; then the abuse suite (hostile
#      peers against the release `rocws serve --threads 1`, about 40 s)
#   2b. topics across nodes: a real redis-server (Debian's, installed when
#      missing) and three rocws nodes (scripts/test-cluster.sh, about 1 s
#      after the release build)
#   3. the Python binding: its wheel installed into a fresh venv, mypy
#      --strict, pytest from outside the checkout (scripts/test-python.sh);
#      the Go binding: go test -race against an installed prefix found with
#      pkg-config, and a vendored out-of-tree build (scripts/test-go.sh;
#      Debian's golang-go when go is missing)
#   4. C/C++ install: scripts/install.sh into a temporary prefix, the C and
#      C++ examples built out of tree with pkg-config and CMake, run
#      (scripts/test-install.sh; Debian's cmake when missing)
#   5. headless Chromium (Debian's, installed when missing) echoing through
#      rocws serve (scripts/test-browser.sh)
#   6. the NEON unmasking kernel compiled for aarch64 and its tests run under
#      qemu-user (scripts/check-neon.sh; installs Debian's cross tools)
#   7. every cargo-fuzz target for 25 s each, from the committed seeds
#      and kept findings, against its reference (scripts/fuzz.sh; installs
#      cargo-fuzz when missing), and Miri over the proto and simd unit tests
#      (scripts/miri.sh; installs the miri component when missing)
#   8. the Autobahn TestSuite, all 517 cases with permessage-deflate, against
#      `rocws serve` (fuzzingclient) and the rocws client (fuzzingserver) at
#      once; installs Autobahn into a Python 2.7 virtualenv on first use
#      (scripts/install-autobahn.sh)
#
# Each step prints its result; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --all-targets --quiet -- -D warnings

step "rustdoc (no warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "build (release)"
cargo build --release --quiet --bins

step "cargo test"
cargo test --quiet 2>&1 | tee target/cargo-test.log
grep -q "test result: ok" target/cargo-test.log

step "abuse suite: hostile peers against rocws serve --threads 1 (release)"
cargo test --release --test abuse

step "topics across nodes: three rocws serve --broker nodes and a real redis-server"
bash scripts/test-cluster.sh

step "Python binding (pytest, ctypes over the C ABI)"
bash scripts/test-python.sh

step "Go binding (go vet, go test -race, cgo over the C ABI)"
bash scripts/test-go.sh

step "C/C++ install: pkg-config and CMake consumers of an installed prefix"
bash scripts/test-install.sh

step "A real browser: headless Chromium against rocws serve"
bash scripts/test-browser.sh

step "NEON kernel: built for aarch64 and tested under qemu-user"
bash scripts/check-neon.sh

step "Fuzzing: every cargo-fuzz target 25 s (libFuzzer + ASan, checked against references)"
bash scripts/fuzz.sh

step "Miri: proto and simd unit tests"
bash scripts/miri.sh

step "Autobahn: fuzzingclient against rocws serve and fuzzingserver against the rocws client, side by side"
# All 517 cases on each side, permessage-deflate (12.*, 13.*) included. Each
# wstest is one single-threaded Python process and sections 12 and 13 are
# most of the time, so the two sides run at once (installed first: both
# scripts would otherwise install into the same virtualenv together).
bash scripts/install-autobahn.sh
mkdir -p target/autobahn
bash scripts/autobahn.sh client "$PWD/target/release/rocws autobahn-client" 9002 \
    >target/autobahn/client-run.log 2>&1 &
client_pid=$!
server_status=0
bash scripts/autobahn.sh server "$PWD/target/release/rocws serve --threads 1" 9001 || server_status=$?
client_status=0
wait "$client_pid" || client_status=$?
echo "---- Autobahn client side (target/autobahn/client-run.log)"
cat target/autobahn/client-run.log
[ "$server_status" -eq 0 ] && [ "$client_status" -eq 0 ]

step "all tests passed"
