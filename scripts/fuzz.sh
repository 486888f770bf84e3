#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for a bounded time and
# fails on any finding (crash, panic, mismatch against a reference, ASan
# report, timeout, out-of-memory). See fuzz/README.md.
#
#   bash scripts/fuzz.sh                    # each target ~25 s (FUZZ_SECONDS)
#   bash scripts/fuzz.sh --campaign 900     # each target 900 s; the grown corpus
#                                           # is kept in fuzz/target/campaign/
#   bash scripts/fuzz.sh conn_model utf8_split   # only these targets
#
# Each run starts from the committed seeds (fuzz/corpus/<target>/) and the
# kept findings (fuzz/regressions/<target>/); new inputs go to a scratch
# corpus, so the committed seeds only change when someone adds one on purpose.
# A finding is saved by libFuzzer under fuzz/artifacts/<target>/.
# Installs cargo-fuzz when missing; uses the installed nightly toolchain.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${FUZZ_SECONDS:-25}
campaign=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --campaign)
            [ $# -ge 2 ] || { echo "usage: $0 --campaign SECONDS [TARGET...]" >&2; exit 2; }
            seconds=$2
            campaign=1
            shift 2
            ;;
        -h | --help)
            sed -n '2,17p' "$0"
            exit 0
            ;;
        *)
            targets+=("$1")
            shift
            ;;
    esac
done

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

start=$(date +%s)
# One build for all targets: release, debug assertions and overflow checks
# on, AddressSanitizer (cargo-fuzz's default sanitizer).
cargo +nightly fuzz build --debug-assertions
echo "fuzz.sh: built in $(($(date +%s) - start)) s"

if [ "$campaign" = 1 ]; then
    scratch=fuzz/target/campaign
    mkdir -p "$scratch"
else
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
fi

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    dirs=("$scratch/$t" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    echo "==== fuzz $t for ${seconds} s"
    # -timeout: one input running 10 s is a hang; -max_len bounds an input.
    if ! cargo +nightly fuzz run --debug-assertions "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 2>"$scratch/$t.log"; then
        failed+=("$t")
        tail -n 60 "$scratch/$t.log"
        cp "$scratch/$t.log" "fuzz/artifacts/$t.log" 2>/dev/null || true
    else
        grep -E '^stat::number_of_executed_units|^Done' "$scratch/$t.log" || true
    fi
done

echo "fuzz.sh: ${#targets[@]} targets in $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: FINDINGS in: ${failed[*]} (inputs under fuzz/artifacts/; see fuzz/README.md)" >&2
    exit 1
fi
echo "fuzz.sh: no findings"
