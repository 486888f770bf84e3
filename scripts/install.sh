#!/usr/bin/env bash
# Installs rocwebsocket for C and C++ projects:
#
#   bash scripts/install.sh --prefix /usr/local        # or ~/.local, /opt/rocwebsocket, ...
#
#   <prefix>/include/rocwebsocket.h, rocwebsocket.hpp   the C header and the C++17 wrapper
#   <libdir>/librocwebsocket.a                          static library
#   <libdir>/librocwebsocket.so.X.Y.Z (+ .so.X, .so)   shared library, SONAME librocwebsocket.so.X
#   <libdir>/pkgconfig/rocwebsocket.pc                  pkg-config --cflags --libs rocwebsocket
#   <libdir>/cmake/rocwebsocket/                        find_package(rocwebsocket): targets
#                                                       rocwebsocket::rocwebsocket (shared, or static
#                                                       with ROCWEBSOCKET_STATIC=ON),
#                                                       rocwebsocket::shared, rocwebsocket::static
#
# Options: --prefix DIR (default /usr/local), --libdir DIR (default <prefix>/lib),
# --no-build (install what target/release holds). DESTDIR=/stage is honoured for packaging.
#
# Why not cargo-c: it is the usual tool, but Debian's cargo-c 0.9.14 embeds
# cargo 0.66, which cannot read this Cargo.lock (version 4), and `cargo install
# cargo-c` compiles all of cargo (many minutes on 2 cores) for what is a copy
# of four files and two generated text files; this script does the same job
# with nothing beyond cargo and coreutils. The SONAME is set at link time by
# build.rs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

prefix=/usr/local
libdir=
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --libdir) libdir=$2; shift 2 ;;
        --libdir=*) libdir=${1#*=}; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
libdir=${libdir:-$prefix/lib}
case "$libdir" in /*) ;; *) libdir=$prefix/$libdir ;; esac
includedir=$prefix/include
destdir=${DESTDIR:-}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
major=${version%%.*}
[ -n "$version" ] || { echo "install.sh: no version in Cargo.toml" >&2; exit 1; }

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release --lib --quiet)
fi
built=$target_dir/release
for f in librocwebsocket.a librocwebsocket.so; do
    [ -f "$built/$f" ] || { echo "install.sh: $built/$f missing (build first)" >&2; exit 1; }
done

echo "installing rocwebsocket $version into ${destdir}$prefix"
install -d "$destdir$includedir" "$destdir$libdir/pkgconfig" "$destdir$libdir/cmake/rocwebsocket"
install -m 644 "$root/include/rocwebsocket.h" "$root/include/rocwebsocket.hpp" "$destdir$includedir/"
install -m 644 "$built/librocwebsocket.a" "$destdir$libdir/"
install -m 755 "$built/librocwebsocket.so" "$destdir$libdir/librocwebsocket.so.$version"
ln -sfn "librocwebsocket.so.$version" "$destdir$libdir/librocwebsocket.so.$major"
ln -sfn "librocwebsocket.so.$major" "$destdir$libdir/librocwebsocket.so"

cat >"$destdir$libdir/pkgconfig/rocwebsocket.pc" <<EOF
prefix=$prefix
libdir=$libdir
includedir=$includedir

Name: rocwebsocket
Description: WebSocket (RFC 6455) engine with a C ABI
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lrocwebsocket
Libs.private: -lpthread -ldl -lm
EOF

# The CMake package finds the prefix relative to itself, so an installed tree
# can be moved (or staged with DESTDIR) as a whole.
cmakedir=$libdir/cmake/rocwebsocket
to_prefix=$(realpath -m --relative-to="$cmakedir" "$prefix")
to_libdir=$(realpath -m --relative-to="$prefix" "$libdir")
to_includedir=$(realpath -m --relative-to="$prefix" "$includedir")
cat >"$destdir$cmakedir/rocwebsocketConfig.cmake" <<EOF
# rocwebsocket $version, installed by scripts/install.sh.
#
#   find_package(rocwebsocket REQUIRED)
#   target_link_libraries(app PRIVATE rocwebsocket::rocwebsocket)
#
# rocwebsocket::rocwebsocket is the shared library, or the static one when
# ROCWEBSOCKET_STATIC is ON; rocwebsocket::shared and rocwebsocket::static
# name one explicitly. The include directory holds rocwebsocket.h (C99) and
# rocwebsocket.hpp (C++17).
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)

get_filename_component(_rws_prefix "\${CMAKE_CURRENT_LIST_DIR}/$to_prefix" ABSOLUTE)
set(_rws_libdir "\${_rws_prefix}/$to_libdir")
set(_rws_includedir "\${_rws_prefix}/$to_includedir")

if(NOT TARGET rocwebsocket::shared)
  add_library(rocwebsocket::shared SHARED IMPORTED)
  set_target_properties(rocwebsocket::shared PROPERTIES
    IMPORTED_LOCATION "\${_rws_libdir}/librocwebsocket.so.$version"
    IMPORTED_SONAME "librocwebsocket.so.$major"
    INTERFACE_INCLUDE_DIRECTORIES "\${_rws_includedir}")

  add_library(rocwebsocket::static STATIC IMPORTED)
  set_target_properties(rocwebsocket::static PROPERTIES
    IMPORTED_LOCATION "\${_rws_libdir}/librocwebsocket.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_rws_includedir}"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;\${CMAKE_DL_LIBS};m")

  add_library(rocwebsocket::rocwebsocket INTERFACE IMPORTED)
  if(ROCWEBSOCKET_STATIC)
    set_target_properties(rocwebsocket::rocwebsocket PROPERTIES INTERFACE_LINK_LIBRARIES rocwebsocket::static)
  else()
    set_target_properties(rocwebsocket::rocwebsocket PROPERTIES INTERFACE_LINK_LIBRARIES rocwebsocket::shared)
  endif()
endif()

set(rocwebsocket_VERSION "$version")
set(rocwebsocket_INCLUDE_DIRS "\${_rws_includedir}")
unset(_rws_prefix)
unset(_rws_libdir)
unset(_rws_includedir)
EOF

cat >"$destdir$cmakedir/rocwebsocketConfigVersion.cmake" <<EOF
# Compatible with requests for the same major version (same minor while the
# major is 0, as with semver) that are not newer than $version.
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif("$major" STREQUAL "0" AND NOT PACKAGE_FIND_VERSION_MINOR STREQUAL "$(echo "$version" | cut -d. -f2)")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
if(NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
EOF

echo "installed: $includedir/rocwebsocket.h{,pp}, $libdir/librocwebsocket.{a,so.$version}, rocwebsocket.pc, cmake/rocwebsocket"
