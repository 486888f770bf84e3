#!/usr/bin/env bash
# Builds the src/simd module (mask NEON kernel + UTF-8 validator + their unit
# tests) for aarch64 and runs the tests under qemu-user.
#
# rustup cannot fetch the aarch64 std here, so this uses Debian bookworm's
# rustc 1.63 with the multiarch libstd-rust-dev:arm64 and the GNU cross
# linker; src/simd/*.rs are kept 1.63-compatible for that reason. simdutf8 is
# compiled from the crate cargo already fetched. Test binaries are linked
# statically: under qemu-user 7.2, dynamically linked glibc binaries hang in
# pthread_create (libtest spawns a thread per test). Installs what it needs
# with apt-get (needs root) the first time; later runs skip that.
#
# Exit status: 0 if the module compiled warning-free for aarch64 and every
# unit test passed under emulation; non-zero otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIMD="$ROOT/src/simd"
TARGET=aarch64-unknown-linux-gnu
OLD_RUSTC=/usr/bin/rustc
START=$(date +%s)

have_tools() {
    [ -x "$OLD_RUSTC" ] &&
        [ -d "/usr/lib/rustlib/$TARGET/lib" ] &&
        command -v aarch64-linux-gnu-gcc >/dev/null &&
        command -v qemu-aarch64 >/dev/null &&
        [ -e /usr/aarch64-linux-gnu/lib/libc.a ]
}

if ! have_tools; then
    echo "check-neon: installing Debian rustc + arm64 std + cross gcc + qemu-user"
    if [ "$(id -u)" != 0 ]; then
        echo "check-neon: need root for apt-get" >&2
        exit 2
    fi
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        rustc libstd-rust-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
        qemu-user >/dev/null
    have_tools || { echo "check-neon: tools still missing after install" >&2; exit 2; }
fi

# simdutf8 source: the version cargo resolved for this crate.
(cd "$ROOT" && cargo fetch --quiet)
SIMDUTF8_VER=$(cd "$ROOT" && cargo metadata --format-version 1 |
    python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="simdutf8"))')
SIMDUTF8_SRC=$(dirname "$SIMDUTF8_VER")/src/lib.rs
[ -f "$SIMDUTF8_SRC" ] || { echo "check-neon: simdutf8 source not found" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/harness.rs" <<EOF
//! aarch64 harness around the simd module.
#![deny(missing_docs)]
#[path = "$SIMD/mod.rs"]
pub mod simd;
EOF

COMMON=(--edition 2021 --target "$TARGET" -C linker=aarch64-linux-gnu-gcc -C opt-level=2
    -C target-feature=+crt-static -L "$WORK" --extern "simdutf8=$WORK/libsimdutf8.rlib")

echo "check-neon: $("$OLD_RUSTC" --version), target $TARGET"
"$OLD_RUSTC" --edition 2018 --crate-type rlib --crate-name simdutf8 --target "$TARGET" \
    -C opt-level=2 --cfg 'feature="std"' --cfg 'feature="default"' --cap-lints allow \
    "$SIMDUTF8_SRC" -o "$WORK/libsimdutf8.rlib"
echo "check-neon: built simdutf8 ($(basename "$(dirname "$(dirname "$SIMDUTF8_SRC")")"))"

"$OLD_RUSTC" "${COMMON[@]}" --crate-type rlib --crate-name simd_neon_check -D warnings \
    "$WORK/harness.rs" -o "$WORK/libsimd_neon_check.rlib"
echo "check-neon: src/simd (mod.rs, mask.rs incl. NEON kernel, utf8.rs) compiles for aarch64 with -D warnings"

"$OLD_RUSTC" "${COMMON[@]}" --test -D warnings "$WORK/harness.rs" -o "$WORK/simd_tests"
echo "check-neon: running unit tests under $(qemu-aarch64 --version | head -1)"
set +e
qemu-aarch64 "$WORK/simd_tests" --test-threads 2 >"$WORK/out.txt" 2>&1
rc=$?
set -e
cat "$WORK/out.txt"
if [ $rc -ne 0 ]; then
    echo "check-neon: FAILED (tests exit $rc)" >&2
    exit 1
fi
# The mask tests run every supported level; make sure NEON was one of them.
if ! grep -q "simd::tests::detection_is_consistent ... ok" "$WORK/out.txt"; then
    echo "check-neon: FAILED (detection test did not run)" >&2
    exit 1
fi
echo "check-neon: OK: NEON mask kernel == reference on all lengths/offsets/alignments," \
    "split payloads, large buffers, dispatch; UTF-8 validator tests pass on aarch64" \
    "($(($(date +%s) - START)) s)"
