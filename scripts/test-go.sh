#!/usr/bin/env bash
# The Go binding's tests (bindings/go, cgo over the C ABI).
#
#   1. installs the Go toolchain (Debian's golang-go, Go 1.19) and pkg-config
#      if missing
#   2. builds librocwebsocket and installs it into target/go-prefix
#      (scripts/install.sh --no-build): the binding finds it with pkg-config,
#      as it finds an installed one (PKG_CONFIG_PATH, LD_LIBRARY_PATH)
#   3. gofmt, go vet ./... and go test -race -count=1 ./... in bindings/go
#   4. an application outside the repository (testdata/consumer) requires the
#      module, `go mod vendor`s it, builds with -mod=vendor and runs
#
# Only the standard library is used: the module needs nothing from the
# network, and GOPROXY=off / GOTOOLCHAIN=local make sure nothing is fetched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
    step "install ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
go version

step "build librocwebsocket (release), install into target/go-prefix"
cargo build --release --lib --quiet
root=$PWD
prefix=$root/target/go-prefix
bash scripts/install.sh --no-build --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "pkg-config: $(pkg-config --cflags --libs rocwebsocket)"

export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off CGO_ENABLED=1
# cgo does not hash headers outside the package: a build cache per header
# version keeps a changed include/rocwebsocket.h from meeting stale objects.
export GOCACHE="$root/target/go-cache/$(sha256sum include/rocwebsocket.h | cut -c1-16)"
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

step "an application outside the repository: go mod vendor, go build -mod=vendor, run"
app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
module=$(sed -n 's/^module //p' go.mod)
cp testdata/consumer/main.go.txt "$app/main.go"
cat >"$app/go.mod" <<EOF
module example.com/consumer

go 1.19

require $module v0.0.0

replace $module => $root/bindings/go
EOF
(cd "$app" && GOFLAGS= go mod vendor && GOFLAGS=-mod=vendor go build -o consumer . && ./consumer)
