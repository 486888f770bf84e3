#!/usr/bin/env bash
# Installs rocwebsocket into a temporary prefix (scripts/install.sh) and uses it
# as a C/C++ project outside this tree would:
#
#   1. installs cmake and pkg-config (Debian's) when missing
#   2. scripts/install.sh --prefix $tmp/prefix (release build of the library)
#   3. checks the installed tree: SONAME librocwebsocket.so.0, the symlinks,
#      pkg-config's answer, the CMake package
#   4. builds examples/c/echo_server.c and examples/cpp/{echo_server,echo_client}.cpp
#      in a copy outside the checkout: with `pkg-config --cflags --libs rocwebsocket`,
#      and with CMake find_package(rocwebsocket) against the shared and the
#      static library (C++ with -std=c++17 -Wall -Wextra -Werror)
#   5. runs each server and echoes through it with the C++ client, then stops
#      the server with SIGTERM and checks that it exits cleanly
#
# About 40 s after the release library is built (most of it CMake configuring).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

step() { printf '\n==== %s\n' "$*"; }

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
    step "install ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rocws-install.XXXXXX")
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix

step "scripts/install.sh --prefix $prefix"
bash "$root/scripts/install.sh" --prefix "$prefix"

step "installed tree"
lib=$prefix/lib
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
for f in include/rocwebsocket.h include/rocwebsocket.hpp lib/librocwebsocket.a \
    "lib/librocwebsocket.so.$version" lib/pkgconfig/rocwebsocket.pc \
    lib/cmake/rocwebsocket/rocwebsocketConfig.cmake lib/cmake/rocwebsocket/rocwebsocketConfigVersion.cmake; do
    [ -f "$prefix/$f" ] || { echo "missing $f" >&2; exit 1; }
done
[ "$(readlink "$lib/librocwebsocket.so")" = librocwebsocket.so.0 ] || { echo "bad .so link" >&2; exit 1; }
[ "$(readlink "$lib/librocwebsocket.so.0")" = "librocwebsocket.so.$version" ] || { echo "bad .so.0 link" >&2; exit 1; }
soname=$(objdump -p "$lib/librocwebsocket.so.$version" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = librocwebsocket.so.0 ] || { echo "SONAME is '$soname'" >&2; exit 1; }
echo "SONAME $soname"
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion rocwebsocket)" = "$version" ] || { echo "pkg-config version" >&2; exit 1; }
echo "pkg-config: $(pkg-config --cflags --libs rocwebsocket) (static adds: $(pkg-config --static --libs-only-l rocwebsocket))"

# The project: a copy of the examples, far from the checkout's include/ and target/.
project=$tmp/project
mkdir -p "$project"
cp "$root/examples/c/echo_server.c" "$project/echo_server_c.c"
cp "$root/examples/cpp/echo_server.cpp" "$root/examples/cpp/echo_client.cpp" "$project/"
cat >"$project/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(rocws_consumer C CXX)
find_package(rocwebsocket 0.1 REQUIRED)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_C_STANDARD 99)
add_executable(echo_server_c echo_server_c.c)
add_executable(echo_server_cpp echo_server.cpp)
add_executable(echo_client_cpp echo_client.cpp)
foreach(t echo_server_c echo_server_cpp echo_client_cpp)
  target_link_libraries(${t} PRIVATE rocwebsocket::rocwebsocket)
  target_compile_options(${t} PRIVATE -Wall -Wextra -Werror)
endforeach()
EOF

step "build with pkg-config"
pc=$project/pkg-config
mkdir -p "$pc"
rpath="-Wl,-rpath,$(pkg-config --variable=libdir rocwebsocket)"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror "$project/echo_server_c.c" $(pkg-config --cflags --libs rocwebsocket) "$rpath" -o "$pc/echo_server_c"
for t in echo_server echo_client; do
    # shellcheck disable=SC2046
    c++ -std=c++17 -Wall -Wextra -Werror "$project/$t.cpp" $(pkg-config --cflags --libs rocwebsocket) "$rpath" -o "$pc/${t}_cpp"
done
objdump -p "$pc/echo_server_c" | grep -q 'NEEDED *librocwebsocket.so.0' \
    || { echo "pkg-config build does not need librocwebsocket.so.0" >&2; exit 1; }

for kind in shared static; do
    step "build with CMake (find_package, $kind library)"
    static=OFF
    [ "$kind" = static ] && static=ON
    cmake -S "$project" -B "$project/cmake-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
        -DROCWEBSOCKET_STATIC=$static -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake-$kind.log" \
        || { cat "$tmp/cmake-$kind.log"; exit 1; }
    cmake --build "$project/cmake-$kind" -j 2 >>"$tmp/cmake-$kind.log" \
        || { cat "$tmp/cmake-$kind.log"; exit 1; }
done
if objdump -p "$project/cmake-static/echo_server_cpp" | grep -q 'NEEDED *librocwebsocket'; then
    echo "the static build links the shared library" >&2
    exit 1
fi
objdump -p "$project/cmake-shared/echo_server_cpp" | grep -q 'NEEDED *librocwebsocket.so.0' \
    || { echo "the shared build does not need librocwebsocket.so.0" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Echoes through `server` with `client`, then stops the server with SIGTERM.
echo_through() {
    local server=$1 client=$2 port log
    port=$(free_port)
    log=$tmp/server-$port.log
    "$server" "127.0.0.1:$port" >"$log" 2>&1 &
    local pid=$!
    servers+=("$pid")
    for _ in $(seq 100); do
        grep -q "echo server on" "$log" && break
        sleep 0.05
    done
    timeout 30 "$client" "ws://127.0.0.1:$port/" 300
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    [ "$status" = 0 ] || { echo "$server exited with $status" >&2; cat "$log" >&2; exit 1; }
    grep -q "closed: 1000" "$log" || { echo "$server did not see the client's close" >&2; cat "$log" >&2; exit 1; }
    echo "  $(basename "$(dirname "$server")")/$(basename "$server") <- $(basename "$client"): ok"
}

step "run: C and C++ servers, C++ client (pkg-config, CMake shared, CMake static)"
for dir in "$pc" "$project/cmake-shared" "$project/cmake-static"; do
    echo_through "$dir/echo_server_c" "$dir/echo_client_cpp"
    echo_through "$dir/echo_server_cpp" "$dir/echo_client_cpp"
done

step "install test passed"
