#!/usr/bin/env bash
# The Go binding's tests (bindings/go, cgo over the C ABI).
#
#   1. installs the Go toolchain (Debian's golang-go, Go 1.19) if `go` is missing
#   2. builds librocwebsocket (cargo build --release --lib)
#   3. go vet ./... and go test -race -count=1 ./... in bindings/go
#
# Only the standard library is used: the module needs nothing from the
# network, and GOPROXY=off / GOTOOLCHAIN=local make sure nothing is fetched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1; then
    step "install Go (apt-get install golang-go)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q golang-go >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q golang-go >/dev/null; }
fi
go version

step "build librocwebsocket (release)"
cargo build --release --lib --quiet

export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off CGO_ENABLED=1
# cgo does not hash headers outside the package: a build cache per header
# version keeps a changed include/rocwebsocket.h from meeting stale objects.
export GOCACHE="$PWD/target/go-cache/$(sha256sum include/rocwebsocket.h | cut -c1-16)"
cd bindings/go

step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
    echo "not gofmt-ed: $unformatted" >&2
    exit 1
fi

step "go vet ./..."
go vet ./...

step "go test -race -count=1 ./..."
log=../../target/go-test.log
status=0
go test -race -count=1 -v "$@" ./... >"$log" 2>&1 || status=$?
grep -E '^(--- |PASS|FAIL|ok|panic)' "$log" || true
if [ "$status" -ne 0 ]; then
    tail -40 ../../target/go-test.log >&2
    exit "$status"
fi
grep -q '^--- PASS' "$log" || { echo "go test ran no test" >&2; exit 1; }
