#!/usr/bin/env bash
# Miri (nightly) over the unit tests of the sans-IO core (src/proto) and of
# the SIMD module's portable paths (src/simd): undefined behaviour in any
# `unsafe` they reach (the word-at-a-time scalar unmasking, the dispatch
# pointer, Utf8Bytes' unchecked str, the read/write buffers) fails the run.
# Installs the miri component when missing. Takes about 3.5 minutes (plus about 2 for
# Miri's own sysroot on a fresh machine).
#
#   bash scripts/miri.sh
#
# What Miri does not run here, and why (also in fuzz/README.md):
#   src/net, tests/*.rs      sockets, epoll (mio) and the engine's threads:
#                            Miri has no epoll/socket support for them
#   src/ffi                  its tests build and run C programs
#   ROCWS_SIMD levels        Miri knows no CPU: is_x86_feature_detected! says
#   sse2/avx2 beyond scalar  no to runtime features, so only the levels the
#                            target enables at compile time (SSE2 on x86_64)
#                            and scalar run; AVX2 kernels are covered by the
#                            mask_levels fuzz target under ASan instead
#   simd::mask::tests::all_lengths_offsets_alignments, large_buffers
#                            hundreds of thousands of calls / megabyte
#                            buffers: hours under Miri; miri_lengths_offsets_
#                            alignments covers the same head/body/tail paths
#                            at every alignment on shorter buffers
#   simd::mask::tests::split_payload_matches_whole
#                            ~2000 splits x every level of up to 700 bytes;
#                            miri_lengths_offsets_alignments runs every key
#                            phase at every alignment instead
#   simd::utf8::tests::long_inputs, random_streams, double_split,
#   single_split_and_bytewise, ascii_precheck_every_position
#                            every split / every position loops over simdutf8:
#                            3 to over 5 minutes each under Miri; utf8.rs has
#                            no unsafe of its own (fail_fast_examples still
#                            runs simdutf8 under Miri), and the utf8_split
#                            fuzz target checks every split under ASan
#   proto::conn::tests::a_ping_flood_queues_one_pong
#                            200 000 ping frames: hours under Miri; the pending
#                            pong it checks is reached by the short ping tests
#   proto::close::tests::sendable_codes_follow_the_table
#                            all 65536 codes through a match: no unsafe, 26 s
#   proto::conn::tests::text_and_binary_at_every_split, length_forms_round_trip
#                            a 440-byte stream decoded at every chunk size
#                            (quadratic) and 200 KB of frames fed byte by
#                            byte: over 10 minutes under Miri; the other conn
#                            tests reach the same unsafe (unmasking, the read
#                            buffer, Utf8Bytes) with short frames, and the
#                            conn_chunks fuzz target runs these at every
#                            chunking under ASan
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "miri.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri.sh: installing the miri component"
    rustup component add --toolchain nightly miri rust-src
fi
start=$(date +%s)
export CARGO_TARGET_DIR=target/miri
# The OS random source (mask keys, handshake nonces) is available to Miri
# only without isolation.
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-isolation"
cargo +nightly miri setup
# proto::deflate::        two set_len calls after zlib-rs writes (checked by the deflate fuzz target under ASan); its tests push thousands of
#                            messages (and an 8 MiB bomb) through zlib-rs,
#                            hours under Miri; they run in cargo test and the
#                            deflate fuzz target runs under ASan
SKIP=(
    --skip simd::mask::tests::all_lengths_offsets_alignments
    --skip simd::mask::tests::large_buffers
    --skip simd::utf8::tests::long_inputs
    --skip simd::utf8::tests::random_streams
    --skip simd::utf8::tests::double_split
    --skip simd::utf8::tests::single_split_and_bytewise
    --skip simd::utf8::tests::ascii_precheck_every_position
    --skip proto::close::tests::sendable_codes_follow_the_table
    --skip proto::conn::tests::a_ping_flood_queues_one_pong
    --skip simd::mask::tests::split_payload_matches_whole
    --skip proto::conn::tests::text_and_binary_at_every_split
    --skip proto::conn::tests::length_forms_round_trip
    --skip proto::deflate::
)
for module in proto:: simd::; do
    echo "==== Miri: $module"
    cargo +nightly miri test --lib -- "$module" "${SKIP[@]}" -Zunstable-options --report-time
done
echo "miri.sh: no undefined behaviour in $(($(date +%s) - start)) s"
