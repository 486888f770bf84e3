#!/usr/bin/env bash
# The Rust tests under AddressSanitizer (nightly -Zsanitizer=address): the
# library's unit tests (proto, simd, net, ffi) and the loopback engine tests,
# then the C ABI tests, whose C programs are built and run with
# -fsanitize=address,undefined by tests/c_abi.rs itself. Not part of
# scripts/test-all.sh (about 4 minutes: a second, instrumented build of the
# crate; 253 s measured here). Fails on any test failure or sanitizer report.
#
#   bash scripts/asan.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "asan.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
start=$(date +%s)
target=$(rustc +nightly -vV | sed -n 's/^host: //p')
# --target keeps build scripts and proc-macros uninstrumented; a separate
# target directory keeps the instrumented build apart from the normal one.
# detect_leaks: the engine tests end threads that hold pooled buffers on
# purpose at exit; leaks are LeakSanitizer's job, not this script's.
export RUSTFLAGS="-Zsanitizer=address -Cdebuginfo=1"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1}"
export CARGO_TARGET_DIR=target/asan
echo "==== ASan: library unit tests"
cargo +nightly test --quiet --target "$target" --lib
echo "==== ASan: engine tests (loopback)"
cargo +nightly test --quiet --target "$target" --test engine
unset RUSTFLAGS RUSTDOCFLAGS CARGO_TARGET_DIR
echo "==== C ABI tests (C programs under -fsanitize=address,undefined)"
cargo test --quiet --test c_abi
echo "asan.sh: clean in $(($(date +%s) - start)) s"
