#!/usr/bin/env bash
# The Python binding's tests, against the package as a user installs it.
#
#   1. builds librocwebsocket (cargo build --release --lib; the wheel build
#      below reuses it: same cargo unit, see bindings/python/setup.py)
#   2. pip wheel bindings/python into target/python-wheel (setuptools-rust
#      puts the library inside the wheel); the checkout must stay clean
#   3. a fresh virtualenv target/py-test-venv (remade every run) gets that
#      wheel, pytest, websockets and mypy (test tools from the wheelhouse
#      target/py-wheelhouse, filled from PyPI once); openssl if missing
#   4. checks the installed package loads its bundled library from another
#      directory with no ROCWS_LIB, and that ROCWS_LIB still overrides
#   5. mypy --strict on the installed package
#   6. pytest on bindings/python/tests, run from a directory outside the
#      checkout, so `import rocwebsocket` can only find the installed package
#
# Exits non-zero on any failure, including pytest's exit code 5 (no test ran).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

step() { printf '\n==== %s\n' "$*"; }
pip_q() { "$@" --quiet --disable-pip-version-check; }

step "build librocwebsocket (release)"
# rocws too: tests/test_feed.py runs `rocws exchange-sim`.
cargo build --release --lib --bin rocws --quiet

step "pip wheel bindings/python"
wheels=$root/target/python-wheel
rm -rf "$wheels"
# What git sees in bindings/python, ignored files included (build/, egg-info).
tree_state() { git status --porcelain --ignored=matching --untracked-files=all -- bindings/python | grep -v '__pycache__' || true; }
before=$(tree_state)
pip_q python3 -m pip wheel --no-deps -w "$wheels" ./bindings/python
wheel=$(ls "$wheels"/rocwebsocket-*.whl)
echo "$wheel"
after=$(tree_state)
if [ "$before" != "$after" ]; then
    echo "the wheel build left files in the checkout:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi

step "fresh virtualenv target/py-test-venv"
tools=(pytest websockets mypy)
house=$root/target/py-wheelhouse
if [ ! -f "$house/.complete" ]; then
    pip_q python3 -m pip wheel -w "$house" "${tools[@]}"
    touch "$house/.complete"
fi
venv=$root/target/py-test-venv
rm -rf "$venv"
python3 -m venv "$venv"
pip_q "$venv/bin/pip" install --no-index --find-links "$house" "${tools[@]}"
pip_q "$venv/bin/pip" install --no-index --no-deps "$wheel"
# tests/test_tls.py makes its certificates with the openssl command.
if ! command -v openssl >/dev/null; then
    apt-get install -y -qq openssl >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
fi
"$venv/bin/python" --version

outside=$(mktemp -d)
trap 'rm -rf "$outside"' EXIT
cd "$outside"
unset ROCWS_LIB PYTHONPATH

step "the installed package loads its own library (no ROCWS_LIB, cwd $outside)"
"$venv/bin/python" - "$venv" <<'EOF'
import sys
import rocwebsocket
from rocwebsocket import _ffi
venv = sys.argv[1]
assert rocwebsocket.__file__.startswith(venv), rocwebsocket.__file__
assert _ffi.lib._name.startswith(venv) and "librocwebsocket" in _ffi.lib._name, _ffi.lib._name
print("rocwebsocket", rocwebsocket.version(), "from", _ffi.lib._name)
EOF
ROCWS_LIB="$root/target/release" "$venv/bin/python" - "$root/target/release" <<'EOF'
import sys
from rocwebsocket import _ffi
assert _ffi.lib._name.startswith(sys.argv[1]), _ffi.lib._name
print("ROCWS_LIB overrides:", _ffi.lib._name)
EOF

step "mypy --strict rocwebsocket (installed)"
"$venv/bin/python" -m mypy --strict --no-incremental -p rocwebsocket

step "pytest bindings/python/tests (installed package, from $outside)"
status=0
ROCWS_BIN="$root/target/release/rocws" "$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$root/bindings/python" \
    -c "$root/bindings/python/pyproject.toml" "$root/bindings/python/tests" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
